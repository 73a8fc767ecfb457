"""The install: one import name (xrec_bench), every package listed, and a CLI that a stray folder cannot break."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_installed_under_xrec_bench():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    mapping = project["package-dir"]
    listed = set(project["packages"])
    found = set()
    for package, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *relative)))
    assert found == listed, f"missing from pyproject packages: {sorted(found - listed)}; " \
                            f"listed but absent: {sorted(listed - found)}"
    assert (ROOT / mapping["xrec_bench"] / "py.typed").is_file()


def test_cli_runs_as_a_module_beside_folders_named_like_its_old_packages(tmp_path):
    for name in ("metrics", "methods", "benchmark"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the user folder was imported')\n")
    for kind in ("methods", "metrics", "datasets"):
        done = subprocess.run([sys.executable, "-m", "xrec_bench", "list", kind], cwd=tmp_path, check=False,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip(), f"list {kind} printed nothing"
    assert "xrec" in done.stdout or "yelp-mini" in done.stdout


def test_licence_file_matches_the_declared_licence():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]
    assert (ROOT / "CITATION.cff").read_text(encoding="utf-8").count("arXiv:2406.02377") == 1
