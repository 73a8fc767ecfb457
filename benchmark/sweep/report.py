"""The cost table and boards of a grid's cells complete so far, running nothing.

A grid that takes several working sessions is published cell by cell (``leaderboards/publish.sh``);
this writes what its sweep would write at the end (``<dir>/boards``: ``costs.md``, ``costs.csv`` and
the leaderboard of the results under ``<dir>``), with every cell not yet complete listed as missing
or stale and no costs. Several grids that share one output directory (the ablation board's switches
and its zero-shot row) give one cost table of all their cells, in the order the grids are named::

    python -m xrec_bench.sweep.report GRID.yaml [GRID.yaml ...] DIR
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from xrec_bench import sweep
from xrec_bench.errors import UserError
from xrec_bench.sweep.costs import cost_row
from xrec_bench.sweep.status import CellState


def write_interim_report(grid_paths: str | Path | Sequence[str | Path], output_dir: str | Path,
                         log: Callable[[str], None] = print) -> list[Path]:
    """``grid_paths``: one grid file or several; a cell two of them share (the same run) is listed once."""
    output_dir = Path(output_dir)
    paths = [grid_paths] if isinstance(grid_paths, (str, Path)) else list(grid_paths)
    statuses, seen = [], set()
    for path in paths:
        for status in sweep.plan(sweep.read_grid(path), output_dir):
            run = (status.cell.dataset, status.cell.method, status.cell.run_id)
            if run not in seen:
                seen.add(run)
                statuses.append(status)
    rows = [cost_row(status.cell, status.state.value,
                     status.result_path if status.state is CellState.COMPLETE else None) for status in statuses]
    return sweep.write_boards(rows, output_dir, log=log,
                              with_leaderboard=any(status.state is CellState.COMPLETE for status in statuses))


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m xrec_bench.sweep.report GRID.yaml [GRID.yaml ...] DIR", file=sys.stderr)
        return 2
    try:
        for path in write_interim_report(argv[:-1], argv[-1], log=lambda line: print(line, file=sys.stderr)):
            print(path)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
