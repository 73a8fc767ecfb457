"""The index page: the boards, and a cross-dataset summary of each method's rank per dataset and its
mean rank (from each board's main table; reported rows never take part)."""

from __future__ import annotations

from typing import Any

from xrec_bench.files import config_hash
from xrec_bench.leaderboard.board import KEY_LENGTH, Board, Row, tagged_names
from xrec_bench.leaderboard.tables import md_escape

EXTENSIONS = ("md", "csv", "tex", "html")


def _rank_text(rank: float) -> str:
    return f"{rank:g}"


def _method_identity(row: Row) -> tuple[str, str, dict[str, Any]]:
    """A method across boards: its name and config (a row's own key also holds its dataset's test set)."""
    config = {"config": row.config["method"], "version": row.config["version"]}
    return row.method, config_hash(config, KEY_LENGTH), config


def to_index(boards: list[Board]) -> str:
    lines = ["# xrec-bench leaderboards", "",
             "Rebuilt from result files by `xrec-bench leaderboard`; do not edit by hand.", "",
             "| Dataset | Methods | Runs | Tables |", "| :-- | --: | --: | :-- |"]
    for board in boards:
        links = " · ".join(f"[{ext}]({board.dataset}.{ext})" for ext in EXTENSIONS)
        lines.append(f"| {board.dataset} | {len(board.rows)} | {board.run_count} | {links} |")
    mains = [(board, board.main) for board in boards if board.main is not None]
    ranked = [(board, main) for board, main in mains if main.ranks]
    unranked = [f"{board.dataset}: {label} ({why})" for board, main in mains
                for label, why in sorted(main.unranked.items())]
    if not ranked:
        return "\n".join(lines + (["", "Not ranked: " + "; ".join(unranked) + "."] if unranked else [])) + "\n"
    lines += ["", "## Ranks across datasets", "",
              ("Per dataset, a method's rank (1 = best) orders the methods by their mean rank over the columns "
               "of that board's main table (ties share the mean of their places; values equal as printed are "
               "ties); the mean rank averages those ranks over the datasets the method was ranked on. A method "
               "is one name and config on every board (tagged where a name has several configs). Reported "
               "rows are not ranked."), ""]
    # Per board, method identity -> rank; a board's labels tag a name only where that board has two configs.
    ranks: list[dict[tuple[str, str], float]] = []
    identities: dict[tuple[str, str], tuple[str, str, dict[str, Any]]] = {}
    for board, main in ranked:
        ranks.append({})
        for row in board.rows:
            if row.label in main.ranks:
                name, key, config = _method_identity(row)
                identities[name, key] = (name, key, config)
                ranks[-1][name, key] = main.ranks[row.label]
    labels = tagged_names([(identity, *item) for identity, item in identities.items()], with_keys=True)
    lines += ["| Method | " + " | ".join(board.dataset for board, _ in ranked) + " | Mean rank | Datasets |",
              "| :-- | " + " | ".join("--:" for _ in ranked) + " | --: | --: |"]
    rows = []
    for identity in identities:
        per_board = [board_ranks.get(identity) for board_ranks in ranks]
        present = [rank for rank in per_board if rank is not None]
        mean = sum(present) / len(present)
        cells = ["" if rank is None else _rank_text(rank) for rank in per_board]
        label = labels[identity]
        rows.append((mean, label, f"| {md_escape(label)} | " + " | ".join(cells) + f" | {mean:.2f} | {len(present)} |"))
    lines += [line for _, _, line in sorted(rows)]
    if unranked:
        lines += ["", "Not ranked: " + "; ".join(unranked) + "."]
    return "\n".join(lines) + "\n"
