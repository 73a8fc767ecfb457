"""A board as Markdown, CSV and LaTeX text: fixed formatting, no timestamps, so rebuilds are byte-identical."""

from __future__ import annotations

import csv
import io
import json

from xrec_bench.leaderboard.board import Board, Cell, Column, Row

DASH = "—"
LEGEND = ("Cells: mean ± std over the test samples (std only for per-sample values); a row averages the "
          "runs of one method config over its seeds. Bold: best in the column. ↑ higher is better, "
          "↓ lower is better. — : skipped (see the notes). Blank: not computed for that row.")


def cell_numbers(column: Column, cell: Cell | None) -> str:
    """``mean ± std`` (std only for sample-level values), ``—`` when skipped in every seed, "" when absent."""
    if cell is None:
        return ""
    if cell.mean is None:
        return DASH
    text = column.format(cell.mean)
    if column.level == "sample" and cell.std is not None:
        text += f" ± {column.format(cell.std)}"
    return text


def header_text(column: Column) -> str:
    return f"{column.header} {column.arrow}".rstrip()


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(column: Column, cell: Cell | None) -> str:
    text = cell_numbers(column, cell)
    if cell is not None and cell.best:
        text = f"**{text}**"
    if cell is not None and cell.note is not None:
        text += f" [^{cell.note}]"
    return text


def _runs_summary(row: Row) -> str:
    return ", ".join(row.run_ids)


def to_markdown(board: Board) -> str:
    lines = [f"# xrec-bench leaderboard: {board.dataset}", "",
             f"Built by `xrec-bench leaderboard` from {board.run_count} complete result files alone.", "",
             LEGEND, ""]
    if board.mixed_test_sets:
        lines += [f"**Note:** {board.mixed_test_sets}", ""]
    for family in board.families:
        columns = board.columns_of(family)
        lines += [f"## {family}", "",
                  "| " + " | ".join(["Method", "Seeds", "n", *(_md_escape(header_text(c)) for c in columns)]) + " |",
                  "| " + " | ".join([":--", "--:", "--:", *("--:" for _ in columns)]) + " |"]
        for row in board.rows_of(family):
            cells = [_md_cell(column, row.cells.get(column.key)) for column in columns]
            lines.append("| " + " | ".join([_md_escape(row.label), str(len(row.seeds)), str(row.n_test or ""),
                                            *cells]) + " |")
        lines.append("")
    if board.notes:
        lines += ["## Notes", ""] + [f"[^{i}]: {_md_escape(note)}" for i, note in enumerate(board.notes, 1)]
        lines.append("")
    lines += ["## Runs", "", "| Method | Method config | Profile | Seeds | Runs |", "| :-- | :-- | :-- | :-- | :-- |"]
    for row in board.rows:
        lines.append(f"| {_md_escape(row.label)} | `{row.key}` | {', '.join(row.profiles)} | "
                     f"{', '.join(map(str, row.seeds))} | {_md_escape(_runs_summary(row))} |")
    lines += ["", "## Column configs", ""]
    for column in board.columns:
        config = json.dumps(column.config, sort_keys=True, ensure_ascii=False)
        lines.append(f"- `{column.header}` ({column.family}, {column.level} level): `{config}`")
    return "\n".join(lines) + "\n"


def to_csv(board: Board) -> str:
    """One wide table: a value column per metric column, plus a std column for per-sample values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["method", "method_config", "seeds", "n"]
    for column in board.columns:
        header.append(column.header)
        if column.level == "sample":
            header.append(f"{column.header} std")
    writer.writerow(header)
    for row in board.rows:
        values = [row.label, row.key, str(len(row.seeds)), str(row.n_test or "")]
        for column in board.columns:
            cell = row.cells.get(column.key)
            mean = "" if cell is None else "skipped" if cell.mean is None else format(cell.mean, ".10g")
            values.append(mean)
            if column.level == "sample":
                values.append("" if cell is None or cell.std is None else format(cell.std, ".10g"))
        writer.writerow(values)
    return out.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def _tex_cell(column: Column, cell: Cell | None) -> str:
    text = cell_numbers(column, cell)
    text = "--" if text == DASH else _tex_escape(text).replace(" ± ", r" $\pm$ ")
    return rf"\textbf{{{text}}}" if cell is not None and cell.best else text


def to_latex(board: Board) -> str:
    """One booktabs table per metric family (needs ``\\usepackage{booktabs}``)."""
    arrows = {"↑": r" $\uparrow$", "↓": r" $\downarrow$", "": ""}
    parts = [f"% xrec-bench leaderboard for {board.dataset}, rebuilt by `xrec-bench leaderboard`; do not edit.",
             "% Cells: mean $\\pm$ std over test samples (per-sample values only); -- = skipped."]
    if board.mixed_test_sets:
        parts.append(f"% Note: {board.mixed_test_sets}")
    parts.append("")
    for family in board.families:
        columns = board.columns_of(family)
        headers = ["Method", "Seeds", "$n$", *(_tex_escape(c.header) + arrows[c.arrow] for c in columns)]
        parts += [r"\begin{table}[t]", r"\centering", r"\small",
                  rf"\caption{{{_tex_escape(board.dataset)}: {_tex_escape(family)}}}",
                  rf"\begin{{tabular}}{{l{'r' * (len(columns) + 2)}}}", r"\toprule",
                  " & ".join(headers) + r" \\", r"\midrule"]
        for row in board.rows_of(family):
            cells = [_tex_cell(column, row.cells.get(column.key)) for column in columns]
            parts.append(" & ".join([_tex_escape(row.label), str(len(row.seeds)), str(row.n_test or ""),
                                     *cells]) + r" \\")
        parts += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(parts)
