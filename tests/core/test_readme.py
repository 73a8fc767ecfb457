"""The README's opening commands and command reference stay true to the CLI and to CI."""

from __future__ import annotations

import re

import click
from xrec_bench.cli import main

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def fenced_command_after(heading: str) -> str:
    block = README[README.index(heading):]
    return re.search(r"```bash\n(.+?)\n```", block, re.DOTALL).group(1).strip()


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci.replace("pip install -q ", "pip install ") == fenced_command_after("**Run the tests**")


def test_both_opening_commands_fetch_the_offline_models_before_using_them():
    for heading, first_use in (("**Run the main job**", "xrec-bench run"), ("**Run the tests**", "pytest")):
        command = fenced_command_after(heading)
        assert command.index("pip install") < command.index("xrec-bench models fetch") < command.index(first_use)


def command_paths(group: click.Group, prefix: str = "xrec-bench") -> list[str]:
    paths = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        paths += command_paths(command, path) if isinstance(command, click.Group) else [path]
    return paths


def test_every_command_is_documented():
    missing = [path for path in command_paths(main) if path not in README]
    assert missing == []
    for option in ("--device", "--shard", "--wait", "--overwrite", "accelerate launch", "--profile paper"):
        assert option in README
