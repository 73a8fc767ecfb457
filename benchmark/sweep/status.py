"""Whether a sweep cell is done: complete only when its result was computed by the code running now.

A result counts as the current code's when its provenance (taken when the run started) names the
commit that HEAD is now and a clean tree, and the tree is clean now too (uncommitted edits are code
no commit names). Any other complete result is stale: rerun, or kept with ``--keep-stale``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from xrec_bench.results import Provenance, ResultFileError
from xrec_bench.sweep.grid import Cell


class CellState(str, Enum):
    COMPLETE = "complete"  # computed by the current code
    STALE = "stale"  # complete, but by other code (another commit, uncommitted edits), or unreadable
    MISSING = "missing"  # no complete result (never run, or stopped part-way: the run resumes it)


@dataclass(frozen=True)
class CellStatus:
    cell: Cell
    state: CellState
    detail: str  # why, in words
    result_path: Path | None  # the complete result.json, stale or not


def is_clean_commit(provenance: Provenance) -> bool:
    return provenance.git_commit is not None and provenance.git_dirty is False


def describe(provenance: Provenance) -> str:
    if provenance.git_commit is None:
        return "no recorded commit"
    edits = {True: " with uncommitted edits", False: "", None: " (whether it had edits is unknown)"}
    return f"commit {provenance.git_commit[:10]}{edits[provenance.git_dirty]}"


def cell_status(cell: Cell, output_dir: Path, current: Provenance) -> CellStatus:
    run_dir = cell.run_directory(output_dir)
    try:
        result = run_dir.completed_result()
    except ResultFileError as unreadable:
        return CellStatus(cell, CellState.STALE, f"its result.json cannot be read (it {unreadable.problem})",
                          run_dir.result_path)
    if result is None:
        detail = "partial run, will resume" if run_dir.path.is_dir() else "not run yet"
        return CellStatus(cell, CellState.MISSING, detail, None)
    environment = result.environment
    recorded = Provenance(environment.get("git_commit"), environment.get("git_dirty"), result.started_at or "")
    if not is_clean_commit(current):
        return CellStatus(cell, CellState.STALE, f"computed by {describe(recorded)}; the code running now is "
                                                 f"{describe(current)}", run_dir.result_path)
    if recorded.git_commit != current.git_commit or recorded.git_dirty is not False:
        return CellStatus(cell, CellState.STALE, f"computed by {describe(recorded)}, not by HEAD "
                                                 f"{current.git_commit[:10]}", run_dir.result_path)
    return CellStatus(cell, CellState.COMPLETE, f"computed by HEAD {current.git_commit[:10]}", run_dir.result_path)
