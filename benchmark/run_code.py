"""The code a run is computed by: the paths of this checkout that its numbers depend on.

The package source (every module, the data manifest) and the install metadata are code of every run.
Tests, docs and committed results are not, and neither is the code no run imports: the board builder,
which reads finished results, and the sweep, which starts each run from its resolved config (so its
run id) and never changes what a run computes. Of the method packages under ``methods/``, a run's
code holds only its own method's package and the packages that one names (transitively: Att2Seq,
NRT, PETER and PEPLER name ``wordlevel``). So boards and sweeps can be improved, and one method
worked on, while a grid's other cells are computed across sessions.

A package "names" another when its source text says ``xrec_bench.methods.<other>`` or
``from xrec_bench.methods import <other>``, in an import at any depth (a lazy import inside a
function counts), a string (a module path imported by name) or a comment: naming too much only
makes a cell stale sooner, never a changed dependency invisible.
"""

from __future__ import annotations

import re
from pathlib import Path

CODE_PATHS = ("benchmark", "methods", "metrics", "pyproject.toml")
OUTSIDE_A_RUN = ("benchmark/leaderboard", "benchmark/sweep")
METHOD_FOLDER = "methods"
_METHOD_MODULE = "xrec_bench.methods"
_NAMED_PACKAGE = re.compile(r"xrec_bench\.methods(?:\.(\w+)| import (\w+))")


def method_package(module: str | None) -> str | None:
    """The package under ``methods/`` that defines a method class of module ``module``; None outside it."""
    if module is None or not module.startswith(f"{_METHOD_MODULE}."):
        return None
    return module.split(".")[2]


def package_closure(source_tree: Path, package: str) -> frozenset[str]:
    """``package`` and every package under ``methods/`` it names, transitively."""
    folder = Path(source_tree) / METHOD_FOLDER
    closure, pending = set(), [package]
    while pending:
        name = pending.pop()
        if name in closure or not (folder / name).is_dir():
            continue
        closure.add(name)
        for path in sorted((folder / name).rglob("*.py")):
            for match in _NAMED_PACKAGE.finditer(path.read_text(encoding="utf-8", errors="replace")):
                pending.append(match.group(1) or match.group(2))
    return frozenset(closure)


def excluded_paths(source_tree: Path, method_module: str | None) -> tuple[str, ...]:
    """The paths inside ``CODE_PATHS`` that are not code of a run of a method defined in ``method_module``
    (None: a run of no particular method, or of a plugin outside ``methods/``, keeps every package)."""
    package = method_package(method_module)
    folder = Path(source_tree) / METHOD_FOLDER
    if package is None or not folder.is_dir():
        return OUTSIDE_A_RUN
    closure = package_closure(source_tree, package)
    others = sorted(path.name for path in folder.iterdir() if path.is_dir() and path.name not in closure
                    and path.name != "__pycache__")
    return OUTSIDE_A_RUN + tuple(f"{METHOD_FOLDER}/{name}" for name in others)
