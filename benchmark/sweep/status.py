"""Whether a sweep cell is done: complete only when its result was computed by the code running now.

"The code" is the code of the cell's run (``xrec_bench.run_code``: the package source less the board
builder, this sweep and the other methods' packages; the data manifest; pyproject.toml), so a
commit that adds results, tests, docs, board or sweep features, or changes another method, leaves
the cell complete, and a sweep resumes across such commits. A result counts as the current code's
when its provenance (taken when the run started) names the same ``code_tree`` as HEAD now with no
uncommitted edits to the code, and the code is clean now too (uncommitted edits are code no commit
names). A result written before ``code_tree`` was recorded counts only if it names the commit that
HEAD is now and a clean tree. Any other complete result is stale: rerun, or kept with ``--keep-stale``.

A run stopped part-way (no complete result.json) resumes from its saved model and predictions, so it
resumes only if the code that started it is the code running now: the sweep records that code in a
start marker before each cell runs (``<output-dir>/.sweep-jobs/started/<dataset>/<method>/<run-id>.json``).
A partial run without a marker, or with one naming other code, starts again from scratch."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from xrec_bench.results import Provenance, ResultFileError
from xrec_bench.run_directory import RunDirectory
from xrec_bench.sweep.grid import Cell

STARTED_FOLDER = Path(".sweep-jobs") / "started"


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
    restart: bool = False  # a partial run started by other code: discard it and start again
    held_back: str | None = None  # why this machine does not run it (``sweep.machine``), in words


def is_clean_code(provenance: Provenance) -> bool:
    """Whether the provenance names committed code: a code tree with no uncommitted edits to it."""
    return provenance.code_tree is not None and provenance.code_dirty is False


def _is_clean_commit(provenance: Provenance) -> bool:
    return provenance.git_commit is not None and provenance.git_dirty is False


def describe(provenance: Provenance) -> str:
    if provenance.git_commit is None:
        return "no recorded commit"
    dirty = provenance.git_dirty if provenance.code_tree is None else provenance.code_dirty
    edits = {True: " with uncommitted edits", False: "", None: " (whether it had edits is unknown)"}
    code = f" (code {provenance.code_tree[:10]})" if provenance.code_tree else ""
    return f"commit {provenance.git_commit[:10]}{code}{edits[dirty]}"


def computed_by(recorded: Provenance, current: Provenance) -> bool:
    """Whether a result with provenance ``recorded`` was computed by the (clean) code ``current``."""
    if recorded.code_tree is not None:
        return recorded.code_tree == current.code_tree and recorded.code_dirty is False
    return _is_clean_commit(recorded) and recorded.git_commit == current.git_commit


def resumable_by(started: Provenance, current: Provenance) -> bool:
    """Whether a run started by the code ``started`` may be resumed by the code ``current``: the same
    committed code, with no uncommitted edits then or now."""
    return is_clean_code(current) and computed_by(started, current)


def cell_status(cell: Cell, output_dir: Path, current: Provenance) -> CellStatus:
    run_dir = cell.run_directory(output_dir)
    try:
        result = run_dir.completed_result()
    except ResultFileError as unreadable:
        return CellStatus(cell, CellState.STALE, f"its result.json cannot be read (it {unreadable.problem})",
                          run_dir.result_path)
    if result is None:
        if not run_dir.path.is_dir():
            return CellStatus(cell, CellState.MISSING, "not run yet", None)
        started = started_by(cell.config, output_dir)
        if started is None:
            return CellStatus(cell, CellState.MISSING, "partial run that no sweep recorded starting; it starts "
                                                       "again from scratch", None, restart=True)
        if not resumable_by(started, current):
            return CellStatus(cell, CellState.MISSING, f"partial run started by {describe(started)}, not by the "
                                                       f"code running now; it starts again from scratch", None,
                              restart=True)
        return CellStatus(cell, CellState.MISSING, "partial run, will resume", None)
    environment = result.environment
    recorded = Provenance(environment.get("git_commit"), environment.get("git_dirty"), result.started_at or "",
                          environment.get("code_tree"), environment.get("code_dirty"))
    if not is_clean_code(current):
        return CellStatus(cell, CellState.STALE, f"computed by {describe(recorded)}; the code running now is "
                                                 f"{describe(current)}", run_dir.result_path)
    if not computed_by(recorded, current):
        return CellStatus(cell, CellState.STALE, f"computed by {describe(recorded)}, not by the code of HEAD "
                                                 f"{describe(current)}", run_dir.result_path)
    return CellStatus(cell, CellState.COMPLETE, f"computed by the code of HEAD {describe(current)}",
                      run_dir.result_path)


def start_marker(config: dict[str, Any], output_dir: Path) -> Path:
    run_dir = RunDirectory.of(Path(output_dir), config, str(config["method"]["name"]))
    return Path(output_dir) / STARTED_FOLDER / run_dir.path.relative_to(output_dir).with_suffix(".json")


def record_start(config: dict[str, Any], output_dir: Path, *, fresh: bool) -> None:
    """Record the code about to start or resume the cell's run, unless a marker already names that code
    (a resume keeps the marker of the code that started the run)."""
    from xrec_bench.sweep import current_provenance

    marker = start_marker(config, output_dir)
    current = current_provenance(str(config["method"]["name"]))
    if not fresh and (started := started_by(config, output_dir)) is not None and resumable_by(started, current):
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    temporary = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"git_commit": current.git_commit, "git_dirty": current.git_dirty,
                                     "started_at": current.started_at, "code_tree": current.code_tree,
                                     "code_dirty": current.code_dirty}, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, marker)


def started_by(config: dict[str, Any], output_dir: Path) -> Provenance | None:
    """The code a sweep recorded starting the cell's run; None without a readable marker."""
    try:
        recorded = json.loads(start_marker(config, output_dir).read_text(encoding="utf-8"))
        return Provenance(recorded["git_commit"], recorded["git_dirty"], recorded["started_at"],
                          recorded["code_tree"], recorded["code_dirty"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
