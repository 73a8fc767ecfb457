"""Who may import whom: plugins never import the runner, and the CLI never imports a metric module."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_methods_and_metrics_do_not_import_the_runner():
    offenders = [str(path.relative_to(REPO)) for folder in ("methods", "metrics")
                 for path in sorted((REPO / folder).rglob("*.py"))
                 if any(name.startswith("xrec_bench.runner") for name in imported_modules(path))]
    assert offenders == []


def test_the_cli_reaches_metrics_through_the_registry_only():
    names = imported_modules(REPO / "benchmark" / "cli.py")
    assert [name for name in names if name.startswith("xrec_bench.metrics")] == []
