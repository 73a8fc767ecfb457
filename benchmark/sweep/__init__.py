"""``xrec-bench sweep``: a grid file expanded into run cells, each run the way ``xrec-bench run`` runs it.

A sweep resumes: a cell whose complete result was computed by the code running now (HEAD, clean
tree) is skipped; a stale one (other code) is run again from scratch, or kept with ``keep_stale``;
a missing one is run (resuming whatever it had finished). It ends with the leaderboard and a cost
table (``costs.md`` / ``costs.csv``) in ``<output-dir>/boards``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from xrec_bench.errors import UserError
from xrec_bench.results import Provenance
from xrec_bench.sweep.costs import CostRow, cost_row, write_costs
from xrec_bench.sweep.executors import EXECUTORS, CellJob, CellOutcome, run_jobs
from xrec_bench.sweep.grid import Cell, Grid, expand_cells, read_grid
from xrec_bench.sweep.machine import held_back_reason
from xrec_bench.sweep.status import CellState, CellStatus, cell_status, describe, is_clean_code

__all__ = ["Cell", "CellOutcome", "CellState", "CellStatus", "Grid", "SweepReport", "current_code", "current_provenance", "plan",
           "read_grid", "sweep"]

BOARDS_FOLDER = "boards"
HELD_BACK = "held back"  # the cost table's state of a cell this machine does not run (``sweep.machine``)


@dataclass(frozen=True)
class SweepReport:
    statuses: list[CellStatus]  # every cell as found before the sweep ran anything
    outcomes: list[CellOutcome]  # the cells it ran
    costs: list[CostRow]
    written: list[Path]  # the cost tables and the leaderboard files

    @property
    def failed(self) -> list[CellOutcome]:
        return [outcome for outcome in self.outcomes if outcome.error]


def _check_executor(grid: Grid, executor: str, max_parallel: int) -> None:
    if executor not in EXECUTORS:
        raise UserError(f"Unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}.")
    if max_parallel < 1:
        raise UserError(f"--max-parallel must be a whole number of at least 1, not {max_parallel}.")
    if executor == "inline" and max_parallel > 1:
        raise UserError("The inline executor runs one cell at a time; pass --executor local (or slurm) to run "
                        f"{max_parallel} cells at once.")
    if executor == "slurm" and "time" not in grid.slurm:
        raise UserError(f"Grid file {grid.path} needs slurm.time (minutes a cell may run) for --executor slurm; "
                        f"add it to its slurm section.")
    if executor == "slurm" and shutil.which("srun") is None:
        raise UserError("--executor slurm needs a Slurm cluster, and this machine has no srun on its PATH; "
                        "run the sweep on a login node, or pass --executor local.")


def current_provenance(method: str) -> Provenance:
    """The code running now, as a run of ``method`` started now would record it."""
    from xrec_bench.registry import methods

    return Provenance.now(methods.get(method).__module__)


def current_code(grid: Grid) -> dict[str, Provenance]:
    """``current_provenance`` of each of the grid's methods."""
    return {method: current_provenance(method) for method in grid.methods}


def _would_run(status: CellStatus, keep_stale: bool) -> bool:
    return status.state is CellState.MISSING or (status.state is CellState.STALE and not keep_stale)


def plan(grid: Grid, output_dir: Path, *, keep_stale: bool = False, executor: str = "inline") -> list[CellStatus]:
    """Every cell of the grid and whether it is complete, stale or missing under ``output_dir``. A cell the
    sweep would run (missing, or stale unless kept) that this machine would compute in emulated bf16 is
    held back (``sweep.machine``), with the reason added to its detail; not under ``slurm``, whose jobs
    run on compute nodes this process cannot see."""
    current = current_code(grid)
    statuses = []
    for cell in expand_cells(grid):
        status = cell_status(cell, Path(output_dir), current[cell.method])
        reason = (held_back_reason(cell.config) if executor != "slurm" and _would_run(status, keep_stale)
                  else None)
        statuses.append(status if reason is None else replace(status, held_back=reason,
                                                              detail=f"{status.detail}; {reason}"))
    return statuses


def _to_run(statuses: list[CellStatus], keep_stale: bool) -> list[CellJob]:
    return [CellJob(status.cell, overwrite=status.state is CellState.STALE or status.restart) for status in statuses
            if status.held_back is None and _would_run(status, keep_stale)]


def _log_held_back(statuses: list[CellStatus], log: Callable[[str], None]) -> None:
    """One line per reason, naming the cells it holds back."""
    by_reason: dict[str, list[str]] = {}
    for status in statuses:
        if status.held_back is not None:
            by_reason.setdefault(status.held_back, []).append(status.cell.label)
    for reason, labels in by_reason.items():
        log(f"{len(labels)} cell{'s' if len(labels) > 1 else ''} {reason}: {'; '.join(labels)}")


def sweep(grid_path: str | Path, output_dir: str | Path, *, executor: str = "inline", max_parallel: int = 1,
          keep_stale: bool = False, log: Callable[[str], None] = print) -> SweepReport:
    """Run every cell of the grid that is not complete, then write the cost table and the leaderboard."""
    from xrec_bench.models import require_fetched

    output_dir = Path(output_dir)
    grid = read_grid(grid_path)
    _check_executor(grid, executor, max_parallel)
    statuses = plan(grid, output_dir, keep_stale=keep_stale, executor=executor)
    for method, current in current_code(grid).items():
        if not is_clean_code(current):
            log(f"warning: the code of {method} running now is {describe(current)}, so no result counts as "
                f"computed by it: every complete {method} cell is stale"
                f"{' (kept: --keep-stale)' if keep_stale else ' and runs again'}; commit first for a sweep "
                f"that resumes.")
    jobs = _to_run(statuses, keep_stale)
    for job in jobs:  # an unfetched offline model fails the sweep before any cell writes a file
        require_fetched(job.cell.config)
    if executor != "slurm":  # a Slurm login node need not have the cells' GPUs; each job checks its own
        from xrec_bench.devices import require_device

        for device in sorted({job.cell.config["runtime"]["device"] for job in jobs}):
            require_device(device)  # as `xrec-bench run` does, before any cell writes a file
    counts = {state: sum(s.state is state for s in statuses) for state in CellState}
    held_back = sum(status.held_back is not None for status in statuses)
    log(f"{len(statuses)} cells: {counts[CellState.COMPLETE]} complete, {counts[CellState.STALE]} stale "
        f"({'kept' if keep_stale else 'run again'}), {counts[CellState.MISSING]} missing; running {len(jobs)} "
        f"with the {executor} executor"
        f"{f', holding back {held_back} that this machine would compute in emulated bf16' if held_back else ''}")
    _log_held_back(statuses, log)
    outcomes = run_jobs(jobs, output_dir, executor=executor, parameters=getattr(grid, executor, {}),
                        max_parallel=max_parallel, log=log)
    ran = {outcome.cell: outcome for outcome in outcomes}
    rows = []
    for status in statuses:
        outcome = ran.get(status.cell)
        if outcome is not None:
            rows.append(cost_row(status.cell, "failed" if outcome.error else "computed", outcome.result_path))
        elif status.held_back is not None:  # a stale result it has stays (and is on the board), as if kept
            rows.append(cost_row(status.cell, HELD_BACK, status.result_path))
        else:
            rows.append(cost_row(status.cell, "complete" if status.state is CellState.COMPLETE else "kept stale",
                                 status.result_path))
    result_paths = [ran[status.cell].result_path if status.cell in ran else status.result_path for status in statuses]
    written = write_boards(rows, output_dir, with_leaderboard=any(path is not None for path in result_paths), log=log)
    if held_back:
        log(f"the grid is not complete here: {held_back} cell{'s' if held_back > 1 else ''} held back (see above)")
    return SweepReport(statuses, outcomes, rows, written)


def write_boards(rows: list[CostRow], output_dir: Path, *, with_leaderboard: bool,
                 log: Callable[[str], None]) -> list[Path]:
    """``<output_dir>/boards``: the cost table of ``rows`` and, when asked, the leaderboard of the results
    under ``output_dir`` (which needs at least one complete result)."""
    from xrec_bench.leaderboard import build_leaderboard

    boards_dir = output_dir / BOARDS_FOLDER
    written = write_costs(rows, boards_dir)
    if with_leaderboard:
        written += build_leaderboard(output_dir, boards_dir, warn=log)
    return written
