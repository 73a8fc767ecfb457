"""Leaderboards rebuilt from result files alone: per dataset Markdown, CSV, LaTeX and a self-contained HTML page.

``build_leaderboard(results_dir, out_dir)`` reads every complete ``<dataset>/<method>/<run-id>/result.json``
under ``results_dir`` (and the samples.jsonl or samples.jsonl.gz beside it, for the significance marks
and the bootstrap intervals) and writes ``<dataset>.{md,csv,tex,html}``, ``index.md`` (with each
method's rank per dataset) and ``built-from.json`` (the results they came from) into ``out_dir``. The
same files always give byte-identical output: everything is sorted, numbers have a fixed format, the
resampling is seeded, and nothing records the time of the build.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from xrec_bench.errors import UserError
from xrec_bench.files import atomic_write_text
from xrec_bench.leaderboard.board import Board, build_board
from xrec_bench.leaderboard.main_table import build_main_table
from xrec_bench.leaderboard.manifest import (
    MANIFEST_FILE,
    manifest_entries,
    manifest_text,
    refuse_other_results,
)
from xrec_bench.leaderboard.page import to_html
from xrec_bench.leaderboard.reported import read_reported
from xrec_bench.leaderboard.result_files import read_complete_results
from xrec_bench.leaderboard.significance import DEFAULT_RESAMPLES, SampleFiles, Settings
from xrec_bench.leaderboard.summary import to_index
from xrec_bench.leaderboard.tables import to_csv, to_latex, to_markdown

FORMATS = (("md", to_markdown), ("csv", to_csv), ("tex", to_latex), ("html", to_html))


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def build_leaderboard(results_dir: str | Path, out_dir: str | Path, warn: Callable[[str], None] = _to_stderr, *,
                      resamples: int = DEFAULT_RESAMPLES, reported: str | Path | None = None,
                      keep_other_boards: bool = False) -> list[Path]:
    """Write the leaderboard files for every dataset with complete results; return the paths written.

    A result file that is broken, unfinished or of another schema is skipped with one ``warn`` line
    naming it and why. Raises ``UserError`` when ``results_dir`` holds no valid complete result, and,
    with ``keep_other_boards``, when ``out_dir`` holds boards built from results not among these
    (``manifest.refuse_other_results``). ``resamples`` sets the bootstrap of the significance marks;
    ``reported`` is a reported-numbers file (``reported.read_reported``).
    """
    if resamples < 1:
        raise UserError(f"--resamples must be a whole number >= 1, not {resamples}.")
    out = Path(out_dir)
    found = read_complete_results(Path(results_dir), warn, out)
    reported_rows = read_reported(reported) if reported is not None else []
    entries = manifest_entries([item for items in found.values() for item in items])
    if keep_other_boards:
        refuse_other_results(out, entries, Path(results_dir))
    files = SampleFiles({(item.result.method["name"], item.result.run_id): item.samples
                         for items in found.values() for item in items})
    settings = Settings(resamples=resamples)
    boards: list[Board] = []
    for dataset, items in found.items():
        board = build_board(dataset, [item.result for item in items])
        board.main = build_main_table(board, files, settings)
        board.reported = [row for row in reported_rows if row.board == dataset]
        boards.append(board)
    written = []
    for board in boards:
        for extension, render in FORMATS:
            path = out / f"{board.dataset}.{extension}"
            atomic_write_text(path, render(board))
            written.append(path)
    for name, text in (("index.md", to_index(boards)), (MANIFEST_FILE, manifest_text(entries))):
        atomic_write_text(out / name, text)
        written.append(out / name)
    return written
