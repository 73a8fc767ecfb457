"""Leaderboards rebuilt from result files alone: per dataset Markdown, CSV, LaTeX and a self-contained HTML page.

``build_leaderboard(results_dir, out_dir)`` reads every complete ``<dataset>/<method>/<run-id>/result.json``
under ``results_dir`` (nothing else) and writes ``<dataset>.{md,csv,tex,html}`` and ``index.md`` into
``out_dir``. The same result files always give byte-identical output: everything is sorted, numbers
have a fixed format, and nothing records the time of the build.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from xrec_bench.files import atomic_write_text
from xrec_bench.leaderboard.board import Board, build_board
from xrec_bench.leaderboard.page import to_html
from xrec_bench.leaderboard.result_files import read_complete_results
from xrec_bench.leaderboard.tables import to_csv, to_latex, to_markdown

FORMATS = (("md", to_markdown), ("csv", to_csv), ("tex", to_latex), ("html", to_html))


def _index(boards: list[Board]) -> str:
    lines = ["# xrec-bench leaderboards", "",
             "Rebuilt from result files by `xrec-bench leaderboard`; do not edit by hand.", "",
             "| Dataset | Methods | Runs | Tables |", "| :-- | --: | --: | :-- |"]
    for board in boards:
        links = " · ".join(f"[{ext}]({board.dataset}.{ext})" for ext, _ in FORMATS)
        lines.append(f"| {board.dataset} | {len(board.rows)} | {board.run_count} | {links} |")
    return "\n".join(lines) + "\n"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def build_leaderboard(results_dir: str | Path, out_dir: str | Path,
                      warn: Callable[[str], None] = _to_stderr) -> list[Path]:
    """Write the leaderboard files for every dataset with complete results; return the paths written.

    A result file that is broken, unfinished or of another schema is skipped with one ``warn`` line
    naming it and why. Raises ``UserError`` when ``results_dir`` holds no valid complete result.
    """
    out = Path(out_dir)
    found = read_complete_results(Path(results_dir), warn, out)
    boards = [build_board(dataset, results) for dataset, results in found.items()]
    written = []
    for board in boards:
        for extension, render in FORMATS:
            path = out / f"{board.dataset}.{extension}"
            atomic_write_text(path, render(board))
            written.append(path)
    index = out / "index.md"
    atomic_write_text(index, _index(boards))
    written.append(index)
    return written
