"""Whether a sweep cell is done: complete only when its result was computed by the code running now.

A result counts as the current code's when it records the commit that HEAD is now and a clean
tree, and the tree is clean now too (uncommitted edits are code no commit names). Any other
complete result is stale: rerun, or kept with ``--keep-stale``.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from xrec_bench.sweep.grid import Cell


class CellState(str, Enum):
    COMPLETE = "complete"  # computed by the current code
    STALE = "stale"  # complete, but by other code (another commit, or a tree with uncommitted edits)
    MISSING = "missing"  # no complete result (never run, or stopped part-way: the run resumes it)


@dataclass(frozen=True)
class CodeVersion:
    """The code a result was computed by (or the code running now): a commit and whether the tree had edits.

    ``commit`` is None and ``dirty`` None where that is unknown (not a git checkout, an older result).
    """

    commit: str | None
    dirty: bool | None

    @property
    def is_committed(self) -> bool:
        return self.commit is not None and self.dirty is False

    def describe(self) -> str:
        if self.commit is None:
            return "no recorded commit"
        return f"commit {self.commit[:10]}" + {True: " with uncommitted edits", False: "",
                                               None: " (clean or not: unknown)"}[self.dirty]


@dataclass(frozen=True)
class CellStatus:
    cell: Cell
    state: CellState
    detail: str  # why, in words
    result_path: Path | None  # the complete result.json, stale or not


def recorded_version(result: dict) -> CodeVersion:
    """The code version a result.json records (``environment.git_commit`` and ``environment.git_dirty``)."""
    environment = result.get("environment") or {}
    commit = environment.get("git_commit")
    dirty = environment.get("git_dirty")
    return CodeVersion(commit if isinstance(commit, str) and commit else None,
                       dirty if isinstance(dirty, bool) else None)


def current_version() -> CodeVersion:
    """HEAD of the checkout xrec_bench is imported from, and whether its tree has uncommitted edits."""
    source = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], check=False, capture_output=True,
                              text=True, timeout=10)
        edits = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               check=False, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return CodeVersion(None, None)
    if head.returncode != 0 or not head.stdout.strip():
        return CodeVersion(None, None)
    return CodeVersion(head.stdout.strip(), bool(edits.stdout.strip()) if edits.returncode == 0 else None)


def cell_status(cell: Cell, output_dir: Path, current: CodeVersion) -> CellStatus:
    path = cell.run_dir(output_dir) / "result.json"
    try:
        result = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        result = None
    if not isinstance(result, dict) or result.get("complete") is not True:
        detail = "partial run, will resume" if cell.run_dir(output_dir).is_dir() else "not run yet"
        return CellStatus(cell, CellState.MISSING, detail, None)
    recorded = recorded_version(result)
    if not current.is_committed:
        return CellStatus(cell, CellState.STALE, f"computed by {recorded.describe()}; the code running now is "
                                                 f"{current.describe()}", path)
    if recorded.commit != current.commit or recorded.dirty is not False:
        return CellStatus(cell, CellState.STALE, f"computed by {recorded.describe()}, not by HEAD "
                                                 f"{current.commit[:10]}", path)
    return CellStatus(cell, CellState.COMPLETE, f"computed by HEAD {current.commit[:10]}", path)
