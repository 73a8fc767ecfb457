"""A board as Markdown, CSV and LaTeX text: fixed formatting, no timestamps, so rebuilds are byte-identical.

Each board opens with its main table (``main_table``: the paper's metrics, mean ± between-seed std,
significance marks, the notes that say what they mean, then any reported rows), followed by one detail
table per metric family (mean ± per-sample std and the 95% bootstrap interval).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from xrec_bench.leaderboard.board import Board, Cell, Column, Row
from xrec_bench.leaderboard.main_table import PAPER_NAMES
from xrec_bench.leaderboard.reported import ReportedRow

DASH = "—"
TIED, REFERENCE = "†", "‡"
DETAIL_LEGEND = ("Cells: mean ± std over the test samples (std only for per-sample values; the paper's "
                 "\"stability\") and, in brackets, the 95% bootstrap interval of the mean over the test samples "
                 "where one is known; a row averages the runs of one method config over its seeds. Bold: best "
                 "in the column. ↑ higher is better, ↓ lower is better. — : skipped (see the notes). Blank: not "
                 "computed for that row.")


def cell_numbers(column: Column, cell: Cell | None, *, interval: bool = True) -> str:
    """Detail cell: ``mean ± std [low, high]`` (std for sample-level values, the interval where known),
    ``—`` when skipped in every seed, "" when absent."""
    if cell is None:
        return ""
    if cell.mean is None:
        return DASH
    text = column.format(cell.mean)
    if column.level == "sample" and cell.std is not None:
        text += f" ± {column.format(cell.std)}"
    if interval and cell.ci95 is not None:
        text += f" [{column.format(cell.ci95[0])}, {column.format(cell.ci95[1])}]"
    return text


def main_numbers(column: Column, cell: Cell | None) -> str:
    """Main cell: ``mean ± between-seed std`` (no ± with one seed), ``—`` skipped, "" absent."""
    if cell is None:
        return ""
    if cell.mean is None:
        return DASH
    text = column.format(cell.mean)
    return text + (f" ± {column.format(cell.seed_std)}" if cell.seed_std is not None else "")


def marker(cell: Cell | None) -> str:
    if cell is None:
        return ""
    return {"tied": TIED, "best": REFERENCE}.get(cell.verdict or "", "")


def header_text(column: Column) -> str:
    return f"{column.header} {column.arrow}".rstrip()


def main_header(board: Board, column: Column) -> str:
    assert board.main is not None
    return f"{board.main.titles[column.key]} {column.arrow}".rstrip()


def rank_text(board: Board, row: Row) -> str:
    assert board.main is not None
    if row.label not in board.main.ranks:
        return ""
    return f"{board.main.ranks[row.label]:g} ({board.main.mean_column_ranks[row.label]:.2f})"


def main_notes(board: Board) -> list[str]:
    """The sentences under the main table: what its cells, marks and ranks mean, and what was left out."""
    main = board.main
    assert main is not None
    settings = main.settings
    notes = [("Cells: mean over seeds ± the standard deviation between seeds (n − 1; no ± with one seed). "
              "Bold: best value in the column. Rank: the place by the mean of the row's ranks over the "
              "columns in which every ranked method has a value (that mean in brackets; ties share the mean "
              "of their places, and values equal as printed are ties); rows on another test set are not "
              "ranked. The 95% bootstrap "
              "intervals are in the detail tables and the CSV (none for USR: a resample repeats test samples, "
              "and repeated predictions are what USR counts)."),
             (f"Significance: {TIED} marks a method not significantly different from the best method compared "
              f"in that column ({REFERENCE}); an unmarked value is significantly worse, unless its method is listed "
              f"under Not tested. Test: each test "
              f"sample's score averaged over the method's seeds (per sample id, from samples.jsonl), then a "
              f"paired bootstrap over the sample ids ({settings.resamples} resamples, seed {settings.seed}; "
              f"corpus-level values such as BLEU-4 and USR recomputed on each resample from the predictions "
              f"and references), two-sided, α = {settings.alpha:g}, Holm's correction across the methods "
              f"compared in the column. Only methods scored on the same test samples are compared.")]
    tested = [column for column in main.columns if main.tests[column.key].reference is not None]
    if not tested:
        notes.append("No column could be tested (see below), so no value carries a mark.")
    by_columns: dict[str, list[str]] = {}
    for why, titles in main.untested.items():
        columns = "every column" if len(titles) == len(main.columns) else ", ".join(titles)
        by_columns.setdefault(columns, []).append(why)
    notes += [f"Not tested ({columns}): {'; '.join(whys)}." for columns, whys in by_columns.items()]
    left_out = [main.titles[column.key] for column in main.columns if main.ranks
                and column.higher_is_better is not None and column.key not in main.rank_columns]
    if left_out:
        notes.append("Not used for the rank (a ranked method has no value there): " + ", ".join(left_out) + ".")
    if main.unranked:
        notes.append("Not ranked: " + "; ".join(f"{label} ({why})" for label, why in sorted(main.unranked.items()))
                     + ".")
    if main.skipped:
        notes.append("Not computed for any method: " + "; ".join(f"{title} ({reason})" for title, reason
                                                                 in main.skipped))
    return notes


def reported_columns(board: Board) -> list[str]:
    """The headline value names the reported rows give, in the paper's order."""
    given = {name for row in board.reported for name in row.values}
    return [name for name in PAPER_NAMES if name in given]


def reported_number(row: ReportedRow, name: str) -> str:
    value = row.values.get(name)
    if value is None:
        return ""
    text = f"{value.mean:g}"
    return text + (f" ± {value.std:g}" if value.std is not None else "")


REPORTED_NOTE = ("Reported rows: numbers as published, on their own test sets, backbones and judges (the "
                 "setting column); they are not ranked, bolded or tested, and are not comparable with the "
                 "rows above.")


def skipped_families_text(board: Board, note_reference: Callable[[int], str] | None, escape: Callable[[str], str]) -> str:
    """The sentence that stands for the detail tables of the families skipped for every method (""
    where there are none), in the format at hand: ``escape`` for a family's name, ``note_reference`` for a
    note number (None where the format has no notes)."""
    skipped = board.skipped_families
    if not skipped:
        return ""
    named = [escape(family) + "".join(note_reference(number) for number in notes) if note_reference else escape(family)
             for family, notes in skipped.items()]
    return (f"Skipped for every method, so without a detail table: {', '.join(named)}"
            f"{' (why: see the notes)' if note_reference else ''}.")


def md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _md_cell(column: Column, cell: Cell | None) -> str:
    text = cell_numbers(column, cell)
    if cell is not None and cell.best:
        text = f"**{text}**"
    if cell is not None and cell.note is not None:
        text += f" [^{cell.note}]"
    return text


def _md_main_cell(column: Column, cell: Cell | None) -> str:
    text = main_numbers(column, cell)
    if cell is not None and cell.best:
        text = f"**{text}**"
    return f"{text} {marker(cell)}".rstrip()


def _md_main(board: Board) -> list[str]:
    main = board.main
    assert main is not None
    lines = ["## Main table", ""]
    if main.columns:
        lines += [_md_row(["Method", "Seeds", "n", "Rank", *(md_escape(main_header(board, c)) for c in main.columns)]),
                  _md_row([":--", "--:", "--:", "--:", *("--:" for _ in main.columns)])]
        for row in board.rows:
            if not any(column.key in row.cells for column in main.columns):
                continue
            lines.append(_md_row([md_escape(row.label), str(len(row.seeds)), str(row.n_test or ""),
                                  rank_text(board, row),
                                  *(_md_main_cell(c, row.cells.get(c.key)) for c in main.columns)]))
        lines.append("")
    lines += [md_escape(note) + "\n" for note in main_notes(board)]
    if board.reported:
        names = reported_columns(board)
        lines += ["### Reported", "",
                  _md_row(["Method", "Source", "Setting", *(PAPER_NAMES[name] for name in names)]),
                  _md_row([":--", ":--", ":--", *("--:" for _ in names)])]
        for reported in board.reported:
            lines.append(_md_row([md_escape(reported.label), md_escape(f"{reported.source}, {reported.table}"),
                                  md_escape(reported.setting), *(reported_number(reported, n) for n in names)]))
        lines += ["", REPORTED_NOTE, ""]
    return lines


def _runs_summary(row: Row) -> str:
    return ", ".join(row.run_ids)


def to_markdown(board: Board) -> str:
    lines = [f"# xrec-bench leaderboard: {board.dataset}", "",
             f"Built by `xrec-bench leaderboard` from {board.run_count} complete result files alone.", ""]
    if board.mixed_test_sets:
        lines += [f"**Note:** {board.mixed_test_sets}", ""]
    lines += _md_main(board)
    lines += ["## Detail tables", ""] + ([DETAIL_LEGEND, ""] if board.detail_families else [])
    if skipped := skipped_families_text(board, lambda number: f" [^{number}]", md_escape):
        lines += [skipped, ""]
    for family in board.detail_families:
        columns = board.columns_of(family)
        lines += [f"### {family}", "",
                  _md_row(["Method", "Seeds", "n", *(md_escape(header_text(c)) for c in columns)]),
                  _md_row([":--", "--:", "--:", *("--:" for _ in columns)])]
        for row in board.rows_of(family):
            cells = [_md_cell(column, row.cells.get(column.key)) for column in columns]
            lines.append(_md_row([md_escape(row.label), str(len(row.seeds)), str(row.n_test or ""), *cells]))
        lines.append("")
    if board.notes:
        lines += ["## Notes", ""] + [f"[^{i}]: {md_escape(note)}" for i, note in enumerate(board.notes, 1)]
        lines.append("")
    lines += ["## Runs", "", "| Method | Method config | Profile | Seeds | Runs |", "| :-- | :-- | :-- | :-- | :-- |"]
    for row in board.rows:
        lines.append(f"| {md_escape(row.label)} | `{row.key}` | {', '.join(row.profiles)} | "
                     f"{', '.join(map(str, row.seeds))} | {md_escape(_runs_summary(row))} |")
    lines += ["", "## Column configs", ""]
    for column in board.columns:
        config = json.dumps(column.config, sort_keys=True, ensure_ascii=False)
        lines.append(f"- `{column.header}` ({column.family}, {column.level} level): `{config}`")
    return "\n".join(lines) + "\n"


def _number(value: float | None) -> str:
    return "" if value is None else format(value, ".10g")


def to_csv(board: Board) -> str:
    """One wide table: per metric column its value, seed std, sample std (per-sample values), 95% interval,
    and for the main table's columns the significance verdict (best, tied, worse; blank: not tested)."""
    main_keys = {column.key for column in board.main.columns} if board.main else set()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = ["method", "method_config", "seeds", "n", "rank", "mean_column_rank"]
    for column in board.columns:
        header += [column.header, f"{column.header} seed std"]
        if column.level == "sample":
            header.append(f"{column.header} sample std")
        header += [f"{column.header} ci95 low", f"{column.header} ci95 high"]
        if column.key in main_keys:
            header.append(f"{column.header} significance")
    writer.writerow(header)
    ranks = board.main.ranks if board.main else {}
    mean_ranks = board.main.mean_column_ranks if board.main else {}
    for row in board.rows:
        values = [row.label, row.key, str(len(row.seeds)), str(row.n_test or ""),
                  _number(ranks.get(row.label)), _number(mean_ranks.get(row.label))]
        for column in board.columns:
            cell = row.cells.get(column.key)
            values.append("" if cell is None else "skipped" if cell.mean is None else _number(cell.mean))
            values.append(_number(cell.seed_std) if cell else "")
            if column.level == "sample":
                values.append(_number(cell.std) if cell else "")
            values += [_number(cell.ci95[0]) if cell and cell.ci95 else "",
                       _number(cell.ci95[1]) if cell and cell.ci95 else ""]
            if column.key in main_keys:
                values.append((cell.verdict or "") if cell else "")
        writer.writerow(values)
    return out.getvalue()


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "†": r"$^\dagger$", "‡": r"$^\ddagger$", "α": r"$\alpha$", "−": "-", "±": r"$\pm$",
                  "↑": r"$\uparrow$", "↓": r"$\downarrow$", "—": "--"}
ARROWS = {"↑": r" $\uparrow$", "↓": r" $\downarrow$", "": ""}


def tex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def _tex_cell(column: Column, cell: Cell | None) -> str:
    text = cell_numbers(column, cell)
    text = "--" if text == DASH else tex_escape(text)
    return rf"\textbf{{{text}}}" if cell is not None and cell.best else text


def _tex_main_cell(column: Column, cell: Cell | None) -> str:
    text = main_numbers(column, cell)
    text = "--" if text == DASH else tex_escape(text)
    text = rf"\textbf{{{text}}}" if cell is not None and cell.best else text
    return text + tex_escape(marker(cell))


def _tex_table(caption: str, headers: list[str], body: list[str], notes: list[str]) -> list[str]:
    parts = [r"\begin{table}[t]", r"\centering", r"\small", rf"\caption{{{caption}}}",
             rf"\begin{{tabular}}{{l{'r' * (len(headers) - 1)}}}", r"\toprule", " & ".join(headers) + r" \\",
             r"\midrule", *body, r"\bottomrule", r"\end{tabular}"]
    parts += [rf"\par\footnotesize {tex_escape(note)}" for note in notes]
    return parts + [r"\end{table}", ""]


def to_latex(board: Board) -> str:
    """The main table, any reported rows, and one booktabs table per metric family (needs
    ``\\usepackage{booktabs}``)."""
    parts = [f"% xrec-bench leaderboard for {board.dataset}, rebuilt by `xrec-bench leaderboard`; do not edit."]
    if board.mixed_test_sets:
        parts.append(f"% Note: {board.mixed_test_sets}")
    parts.append("")
    main = board.main
    if main is not None and main.columns:
        headers = ["Method", "Seeds", "$n$", "Rank", *(tex_escape(main_header(board, c)) for c in main.columns)]
        body = [" & ".join([tex_escape(row.label), str(len(row.seeds)), str(row.n_test or ""),
                            tex_escape(rank_text(board, row)),
                            *(_tex_main_cell(c, row.cells.get(c.key)) for c in main.columns)]) + r" \\"
                for row in board.rows if any(column.key in row.cells for column in main.columns)]
        parts += _tex_table(f"{tex_escape(board.dataset)}: main table", headers, body, main_notes(board))
    if board.reported:
        names = reported_columns(board)
        body = [" & ".join([tex_escape(r.label), tex_escape(f"{r.source}, {r.table}"), tex_escape(r.setting),
                            *(tex_escape(reported_number(r, n)) for n in names)]) + r" \\" for r in board.reported]
        parts += _tex_table(f"{tex_escape(board.dataset)}: reported numbers",
                            ["Method", "Source", "Setting", *(tex_escape(PAPER_NAMES[n]) for n in names)], body,
                            [REPORTED_NOTE])
    if skipped := skipped_families_text(board, None, str):
        parts += [f"% {skipped}", ""]
    for family in board.detail_families:
        columns = board.columns_of(family)
        headers = ["Method", "Seeds", "$n$", *(tex_escape(c.header) + ARROWS[c.arrow] for c in columns)]
        body = [" & ".join([tex_escape(row.label), str(len(row.seeds)), str(row.n_test or ""),
                            *(_tex_cell(column, row.cells.get(column.key)) for column in columns)]) + r" \\"
                for row in board.rows_of(family)]
        parts += _tex_table(f"{tex_escape(board.dataset)}: {tex_escape(family)}", headers, body, [])
    return "\n".join(parts)
