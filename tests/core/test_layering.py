"""Who may import whom: plugins never import the runner, the CLI never imports a metric module, and no run imports the boards or the sweep."""

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


def test_no_module_of_a_run_imports_the_board_builder_or_the_sweep():
    """The code tree of a result leaves these folders out (``xrec_bench.run_code.OUTSIDE_A_RUN``)."""
    outside = ("xrec_bench.leaderboard", "xrec_bench.sweep")
    run_code = [path for folder in ("benchmark", "methods", "metrics") for path in sorted((REPO / folder).rglob("*.py"))
                if not any(path.is_relative_to(REPO / "benchmark" / name) for name in ("leaderboard", "sweep"))
                and path != REPO / "benchmark" / "cli.py"]  # the CLI imports them inside their own commands only
    offenders = [str(path.relative_to(REPO)) for path in run_code
                 if any(name.startswith(outside) for name in imported_modules(path))]
    assert offenders == []
