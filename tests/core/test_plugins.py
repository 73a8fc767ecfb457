"""A tiny out-of-tree plugin package, installed and run through the CLI like a user's own method."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import run_cli

PLUGIN = '''
from xrec_bench.plugin import Method
from xrec_bench.registry import methods


@methods.register("title-echo", summary="says the user would enjoy the item, by name")
class TitleEcho(Method):
    needs_training = False

    def explain(self, records, ctx):
        return [f"The user would enjoy {r.title}." for r in records]
'''


def test_an_installed_plugin_package_is_listed_and_runs(tmp_path, mirror):
    source = tmp_path / "plugin-src"
    (source / "title_echo").mkdir(parents=True)
    (source / "title_echo" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    (source / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "title-echo"
        version = "0.1"
        [project.entry-points."xrec_bench.methods"]
        title-echo = "title_echo:TitleEcho"
    '''))
    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                                "--no-build-isolation", "--target", str(target), str(source)],
                               check=False, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    env = {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listed = run_cli("list", "methods", env=env)
    line = next(line for line in listed.stdout.splitlines() if line.startswith("title-echo "))
    assert line.split(None, 1)[1] == "says the user would enjoy the item, by name"
    done = run_cli("run", "--method", "title-echo", "--dataset", "yelp-mini", "--metrics", "usr",
                   "--output-dir", str(tmp_path / "runs"), env=env)
    assert done.returncode == 0, done.stderr
    result = json.loads(Path(done.stdout.strip().splitlines()[-1]).read_text())
    assert result["method"]["name"] == "title-echo" and result["metrics"]["usr"]["n"] == 300
