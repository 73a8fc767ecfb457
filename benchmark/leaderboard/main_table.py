"""The headline table of a board, in the XRec paper's layout: a row per method, the paper's metrics as
columns (GPTScore, BERTScore P/R/F1, BARTScore, BLEURT, USR, then BLEU-4 and ROUGE-L), each cell the
mean over seeds ± the between-seed std, marked by the significance stage. A headline metric skipped
for every row becomes one line under the table instead of a column of dashes.

Also the rank of each row on the board (the mean of its ranks over the table's columns), for the
cross-dataset summary.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field

from xrec_bench.leaderboard.board import Board, Column, Row
from xrec_bench.leaderboard.significance import ColumnTest, SampleFiles, Settings, mark_significance

# (value name, the paper's name for it), in the paper's column order.
HEADLINE = (("gptscore", "GPTScore"), ("bertscore_p", "BERTScore-P"), ("bertscore_r", "BERTScore-R"),
            ("bertscore_f1", "BERTScore-F1"), ("bartscore", "BARTScore"), ("bleurt", "BLEURT"), ("usr", "USR"),
            ("bleu4", "BLEU-4"), ("rougeL_f", "ROUGE-L"))
PAPER_NAMES = dict(HEADLINE)


@dataclass
class MainTable:
    columns: list[Column]  # headline columns with a value in at least one row
    titles: dict[tuple[str, str, str], str]  # column key -> paper name (with its model tag)
    skipped: list[tuple[str, str]]  # (title, first sentence of each reason) of headline columns skipped everywhere
    tests: dict[tuple[str, str, str], ColumnTest]
    settings: Settings
    ranks: dict[str, float] = field(default_factory=dict)  # row label -> rank on this board (1 = best)
    mean_column_ranks: dict[str, float] = field(default_factory=dict)
    unranked: dict[str, str] = field(default_factory=dict)  # row label -> why it has no rank
    rank_columns: list[tuple[str, str, str]] = field(default_factory=list)  # the column keys the ranks use

    @property
    def columns_by_key(self) -> dict[tuple[str, str, str], Column]:
        return {column.key: column for column in self.columns}

    @property
    def untested(self) -> dict[str, list[str]]:
        """Why rows were left out of the tests -> the columns it applies to (for the note)."""
        found: dict[str, list[str]] = {}
        for column in self.columns:
            for label, why in sorted(self.tests[column.key].not_compared.items()):
                found.setdefault(f"{label}: {why}", []).append(self.titles[column.key])
        return found


def _title(column: Column) -> str:
    name = PAPER_NAMES[column.value_name]
    return column.header.replace(column.value_name, name, 1)


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + (dot.strip() or "")


def _average_ranks(values: dict[str, float], higher_is_better: bool) -> dict[str, float]:
    """1 = best; tied values share the mean of their positions. The values must be finite."""
    ordered = sorted(values, key=lambda label: (-values[label] if higher_is_better else values[label]))
    ranks: dict[str, float] = {}
    position = 0
    while position < len(ordered):
        end = position + 1
        while end < len(ordered) and values[ordered[end]] == values[ordered[position]]:
            end += 1
        for label in ordered[position:end]:
            ranks[label] = position + (end - position + 1) / 2
        position = end
    return ranks


def _rank(table: MainTable, rows: list[Row]) -> None:
    """Rank the rows scored on the board's most common test setting by their mean rank over the columns
    in which every one of them has a value (so a row is never ranked on fewer columns than another)."""
    settings = Counter(json.dumps(row.config["setting"], sort_keys=True) for row in rows)
    if not settings:
        return
    common = min(settings, key=lambda s: (-settings[s], s))
    candidates = [row for row in rows if json.dumps(row.config["setting"], sort_keys=True) == common]
    for row in rows:
        if row not in candidates:
            table.unranked[row.label] = f"scored on another test set (n = {row.n_test})"
    # Values equal as printed are ties (the table cannot tell them apart either).
    shown: dict[tuple[str, str, str], dict[str, float]] = {}
    for column in table.columns:
        if column.higher_is_better is not None:
            shown[column.key] = {row.label: float(column.format(cell.mean)) for row in candidates
                                 if (cell := row.cells.get(column.key)) is not None and cell.mean is not None
                                 and math.isfinite(cell.mean)}
    ranked = [row.label for row in candidates if any(row.label in values for values in shown.values())]
    for row in candidates:
        if row.label not in ranked:
            table.unranked[row.label] = "no ranked column has a value for it"
    table.rank_columns = [key for key, values in shown.items() if set(ranked) <= set(values)]
    if len(ranked) < 2:
        for label in ranked:
            table.unranked[label] = "no other method to rank it against"
        return
    if not table.rank_columns:
        for label in ranked:
            table.unranked[label] = "no column has a value for every method of the board"
        return
    column_ranks: dict[str, list[float]] = {label: [] for label in ranked}
    for key in table.rank_columns:
        for label, rank in _average_ranks({label: shown[key][label] for label in ranked},
                                          table.columns_by_key[key].higher_is_better).items():
            column_ranks[label].append(rank)
    table.mean_column_ranks = {label: sum(r) / len(r) for label, r in column_ranks.items()}
    table.ranks = _average_ranks({label: -rank for label, rank in table.mean_column_ranks.items()}, True)


def build_main_table(board: Board, files: SampleFiles, settings: Settings) -> MainTable:
    order = {name: index for index, (name, _) in enumerate(HEADLINE)}
    headline = sorted((c for c in board.columns if c.value_name in order),
                      key=lambda c: (order[c.value_name], c.header))
    shown, skipped = [], []
    for column in headline:
        if board.has_value(column):
            shown.append(column)
        else:
            reasons = sorted({_first_sentence(reason) for cell in board.cells_in(column) for reason in cell.reasons})
            skipped.append((_title(column), " ".join(reasons) or "no reason given"))
    table = MainTable(shown, {c.key: _title(c) for c in headline}, skipped, {}, settings)
    for column in shown:
        table.tests[column.key] = mark_significance(column, board.rows, files, settings)
    _rank(table, board.rows)
    return table
