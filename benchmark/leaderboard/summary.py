"""The index page: the boards, and a cross-dataset summary of each method's rank per dataset and its
mean rank (from each board's main table; reported rows never take part)."""

from __future__ import annotations

from xrec_bench.leaderboard.board import Board
from xrec_bench.leaderboard.tables import md_escape

EXTENSIONS = ("md", "csv", "tex", "html")


def _rank_text(rank: float) -> str:
    return f"{rank:g}"


def to_index(boards: list[Board]) -> str:
    lines = ["# xrec-bench leaderboards", "",
             "Rebuilt from result files by `xrec-bench leaderboard`; do not edit by hand.", "",
             "| Dataset | Methods | Runs | Tables |", "| :-- | --: | --: | :-- |"]
    for board in boards:
        links = " · ".join(f"[{ext}]({board.dataset}.{ext})" for ext in EXTENSIONS)
        lines.append(f"| {board.dataset} | {len(board.rows)} | {board.run_count} | {links} |")
    ranked = [board for board in boards if board.main is not None and board.main.ranks]
    if not ranked:
        return "\n".join(lines) + "\n"
    lines += ["", "## Ranks across datasets", "",
              ("Per dataset, a method's rank (1 = best) orders the methods by their mean rank over the columns "
               "of that board's main table (ties share the mean of their places; values equal as printed are "
               "ties); the mean rank averages those ranks over the datasets the method was ranked on. Reported "
               "rows are not ranked."), ""]
    labels = sorted({label for board in ranked for label in board.main.ranks})  # type: ignore[union-attr]
    lines += ["| Method | " + " | ".join(board.dataset for board in ranked) + " | Mean rank | Datasets |",
              "| :-- | " + " | ".join("--:" for _ in ranked) + " | --: | --: |"]
    rows = []
    for label in labels:
        ranks = [board.main.ranks.get(label) for board in ranked]  # type: ignore[union-attr]
        present = [rank for rank in ranks if rank is not None]
        mean = sum(present) / len(present)
        cells = ["" if rank is None else _rank_text(rank) for rank in ranks]
        rows.append((mean, label, f"| {md_escape(label)} | " + " | ".join(cells) + f" | {mean:.2f} | {len(present)} |"))
    lines += [line for _, _, line in sorted(rows)]
    unranked = [f"{board.dataset}: {label} ({why})" for board in ranked
                for label, why in sorted(board.main.unranked.items())]  # type: ignore[union-attr]
    if unranked:
        lines += ["", "Not ranked: " + "; ".join(unranked) + "."]
    return "\n".join(lines) + "\n"
