"""A board as one self-contained HTML page: the main table, the reported rows, the detail tables, the
notes, and an inline SVG bar chart per metric value with its 95% bootstrap interval as the error bar.
Columns sort on a click (a small inline script); nothing is fetched from the network, and the page fits
a 1400-pixel-wide window (wide tables scroll inside their own box)."""

from __future__ import annotations

import json
import math
from html import escape

from xrec_bench.leaderboard.board import Board, Cell, Column, Row
from xrec_bench.leaderboard.main_table import PAPER_NAMES
from xrec_bench.leaderboard.tables import (
    DETAIL_LEGEND,
    REPORTED_NOTE,
    cell_numbers,
    header_text,
    main_header,
    main_notes,
    main_numbers,
    marker,
    rank_text,
    reported_columns,
    reported_number,
    skipped_families_text,
)

LABEL_WIDTH, PLOT_WIDTH, VALUE_WIDTH = 230, 400, 190
BAR_HEIGHT, BAR_GAP, TOP, BOTTOM = 18, 8, 30, 26
LABEL_CHARS = 34
PAGE_WIDTH = 1400  # px: the window the page must fit

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; max-width: 1340px; }
.scroll { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #d0d0d5; padding: 0.3rem 0.5rem; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
td:first-child { white-space: normal; min-width: 12rem; }
th { white-space: normal; vertical-align: bottom; }
th[data-sortable] { cursor: pointer; user-select: none; }
th[aria-sort="ascending"]::after { content: " \\25B4"; }
th[aria-sort="descending"]::after { content: " \\25BE"; }
td.best { font-weight: bold; }
td.prose { white-space: normal; text-align: left; min-width: 12rem; max-width: 24rem; }
#reported-table th:nth-child(2), #reported-table th:nth-child(3) { text-align: left; }
p.note { max-width: 1100px; font-size: 0.85rem; }
figure { margin: 0 0 1.5rem; }
code { font-size: 0.85rem; }
svg text { font-family: system-ui, sans-serif; font-size: 12px; fill: #1d1d1f; }
""".strip()

# Click a header to sort its table by that column (numbers numerically, blanks last); click again to reverse.
SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th[data-sortable]").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) { return row.cells[column].getAttribute("data-sort") || ""; }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var nx = Number(x), ny = Number(y);
        var order = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
""".strip()


def _n(value: float) -> str:
    """SVG coordinates with fixed precision, so pages are byte-identical across rebuilds."""
    return f"{value:.2f}"


def _sort_key(cell: Cell | None) -> str:
    return "" if cell is None or cell.mean is None or not math.isfinite(cell.mean) else repr(cell.mean)


def _head(labels: list[str]) -> str:
    return "<thead><tr>" + "".join(f"<th data-sortable>{escape(label)}</th>" for label in labels) + "</tr></thead>"


def _row_start(board: Board, row: Row, *, rank: bool) -> list[str]:
    cells = [f'<td data-sort="{escape(row.label)}">{escape(row.label)}</td>',
             f'<td data-sort="{len(row.seeds)}">{len(row.seeds)}</td>',
             f'<td data-sort="{row.n_test or ""}">{row.n_test or ""}</td>']
    if rank:
        place = board.main.ranks.get(row.label) if board.main else None
        cells.append(f'<td data-sort="{"" if place is None else repr(place)}">{escape(rank_text(board, row))}</td>')
    return cells


def _main_table(board: Board) -> list[str]:
    main = board.main
    assert main is not None
    lines = ["<h2>Main table</h2>"]
    if main.columns:
        lines += ['<div class="scroll"><table class="sortable" id="main-table">',
                  _head(["Method", "Seeds", "n", "Rank", *(main_header(board, c) for c in main.columns)]), "<tbody>"]
        for row in board.rows:
            if not any(column.key in row.cells for column in main.columns):
                continue
            cells = _row_start(board, row, rank=True)
            for column in main.columns:
                cell = row.cells.get(column.key)
                text = escape(f"{main_numbers(column, cell)} {marker(cell)}".rstrip())
                css = ' class="best"' if cell is not None and cell.best else ""
                cells.append(f'<td{css} data-sort="{_sort_key(cell)}">{text}</td>')
            lines.append("<tr>" + "".join(cells) + "</tr>")
        lines += ["</tbody>", "</table></div>"]
    lines += [f'<p class="note">{escape(note)}</p>' for note in main_notes(board)]
    if board.reported:
        names = reported_columns(board)
        lines += ["<h3>Reported</h3>", '<div class="scroll"><table class="sortable" id="reported-table">',
                  _head(["Method", "Source", "Setting", *(PAPER_NAMES[name] for name in names)]), "<tbody>"]
        for reported in board.reported:
            cells = [f"<td>{escape(reported.label)}</td>"]  # source and setting are sentences: they wrap
            cells += [f'<td class="prose">{escape(text)}</td>' for text in
                      (f"{reported.source}, {reported.table}", reported.setting)]
            cells += [f'<td data-sort="{"" if (v := reported.values.get(n)) is None else repr(v.mean)}">'
                      f"{escape(reported_number(reported, n))}</td>" for n in names]
            lines.append("<tr>" + "".join(cells) + "</tr>")
        lines += ["</tbody>", "</table></div>", f'<p class="note">{escape(REPORTED_NOTE)}</p>']
    return lines


def _table(board: Board, family: str) -> list[str]:
    columns = board.columns_of(family)
    lines = ['<div class="scroll"><table class="sortable">',
             _head(["Method", "Seeds", "n", *map(header_text, columns)]), "<tbody>"]
    for row in board.rows_of(family):
        cells = _row_start(board, row, rank=False)
        for column in columns:
            cell = row.cells.get(column.key)
            text = escape(cell_numbers(column, cell))
            if cell is not None and cell.note is not None:
                text += f'<sup><a href="#note-{cell.note}">{cell.note}</a></sup>'
            css = ' class="best"' if cell is not None and cell.best else ""
            cells.append(f'<td{css} data-sort="{_sort_key(cell)}">{text}</td>')
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return lines + ["</tbody>", "</table></div>"]


def bar_chart(board: Board, column: Column) -> str:
    """Horizontal bars (one per row with a value), error bars at the 95% bootstrap interval where one is
    known, the zero line marked."""
    bars = [(row.label, cell.mean, cell.ci95, cell.best) for row in board.rows
            if (cell := row.cells.get(column.key)) is not None and cell.mean is not None
            and math.isfinite(cell.mean)]
    if not bars:
        return ""
    ends = [value for _, mean, ci, _ in bars for value in (mean, *(ci or ()))]
    low, high = min(0.0, *ends), max(0.0, *ends)
    high = high if high > low else low + 1.0

    def x(value: float) -> float:
        return LABEL_WIDTH + (value - low) / (high - low) * PLOT_WIDTH

    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    height = TOP + len(bars) * (BAR_HEIGHT + BAR_GAP) + BOTTOM
    title = header_text(column)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'),
             f"<title>{escape(title)} (error bars: 95% bootstrap interval over the test samples)</title>",
             f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>']
    for index, (label, mean, ci, best) in enumerate(bars):
        y = TOP + index * (BAR_HEIGHT + BAR_GAP)
        middle = y + BAR_HEIGHT / 2
        shown = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
        parts.append(f'<text x="{_n(LABEL_WIDTH - 8)}" y="{_n(middle + 4)}" text-anchor="end">'
                     f"<title>{escape(label)}</title>{escape(shown)}</text>")
        left, right = sorted((x(0.0), x(mean)))
        fill = "#2f6db5" if best else "#8fb3de"
        parts.append(f'<rect x="{_n(left)}" y="{_n(y)}" width="{_n(right - left)}" height="{BAR_HEIGHT}" '
                     f'fill="{fill}"/>')
        value_text = column.format(mean)
        if ci is not None:
            a, b = x(ci[0]), x(ci[1])
            parts.append(f'<path d="M{_n(a)} {_n(middle)}H{_n(b)}M{_n(a)} {_n(y + 4)}V{_n(y + BAR_HEIGHT - 4)}'
                         f'M{_n(b)} {_n(y + 4)}V{_n(y + BAR_HEIGHT - 4)}" stroke="#1d1d1f" fill="none"/>')
            value_text += f" [{column.format(ci[0])}, {column.format(ci[1])}]"
        right_end = max(x(0.0), x(mean), x(ci[1]) if ci is not None else x(mean))
        parts.append(f'<text x="{_n(right_end + 6)}" y="{_n(middle + 4)}">{escape(value_text)}</text>')
    axis_y = TOP + len(bars) * (BAR_HEIGHT + BAR_GAP)
    parts.append(f'<path d="M{_n(x(0.0))} {TOP - 4}V{axis_y}" stroke="#555" fill="none"/>')
    for value, anchor in ((low, "start"), (high, "end")):
        parts.append(f'<text x="{_n(x(value))}" y="{axis_y + 16}" text-anchor="{anchor}">'
                     f"{escape(column.format(value))}</text>")
    if low < 0 < high:
        parts.append(f'<text x="{_n(x(0.0))}" y="{axis_y + 16}" text-anchor="middle">0</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(board: Board) -> str:
    title = f"xrec-bench leaderboard: {board.dataset}"
    lines = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f'<meta name="viewport" content="width={PAGE_WIDTH}">',
             f"<title>{escape(title)}</title>", f"<style>\n{STYLE}\n</style>", "</head>", "<body>",
             f"<h1>{escape(title)}</h1>",
             (f"<p>Built by <code>xrec-bench leaderboard</code> from {board.run_count} complete result files "
             f"alone. Click a column header to sort.</p>")]
    if board.mixed_test_sets:
        lines.append(f"<p><strong>Note:</strong> {escape(board.mixed_test_sets)}</p>")
    lines += _main_table(board)
    lines.append("<h2>Detail tables</h2>")
    if board.detail_families:
        lines.append(f'<p class="note">{escape(DETAIL_LEGEND)}</p>')
    if skipped := skipped_families_text(board, lambda number: f'<sup><a href="#note-{number}">{number}</a></sup>',
                                        escape):
        lines.append(f'<p class="note">{skipped}</p>')
    for family in board.detail_families:
        lines += [f"<h3>{escape(family)}</h3>", *_table(board, family)]
    if board.notes:
        lines += ["<h2>Notes</h2>", "<ol>"]
        lines += [f'<li id="note-{i}">{escape(note)}</li>' for i, note in enumerate(board.notes, 1)]
        lines.append("</ol>")
    lines += ["<h2>Charts</h2>",
              ('<p class="note">Bars: the mean; error bars: its 95% bootstrap interval over the test samples, where '
              "one is known (none is drawn otherwise).</p>")]
    for family in board.families:
        charts = [chart for column in board.columns_of(family) if (chart := bar_chart(board, column))]
        if charts:
            lines += [f"<h3>{escape(family)}</h3>", *(f"<figure>{chart}</figure>" for chart in charts)]
    lines += ["<h2>Runs</h2>", '<div class="scroll"><table>',
              ("<thead><tr><th>Method</th><th>Method config</th><th>Profile</th><th>Seeds</th><th>Runs</th>"
              "</tr></thead>"), "<tbody>"]
    for row in board.rows:
        lines.append(f"<tr><td>{escape(row.label)}</td><td><code>{row.key}</code></td>"
                     f"<td>{escape(', '.join(row.profiles))}</td><td>{', '.join(map(str, row.seeds))}</td>"
                     f"<td>{escape(', '.join(row.run_ids))}</td></tr>")
    lines += ["</tbody>", "</table></div>", "<h2>Column configs</h2>", "<ul>"]
    for column in board.columns:
        config = json.dumps(column.config, sort_keys=True, ensure_ascii=False)
        lines.append(f"<li><code>{escape(column.header)}</code> ({escape(column.family)}, {column.level} level): "
                     f"<code>{escape(config)}</code></li>")
    lines += ["</ul>", f"<script>\n{SCRIPT}\n</script>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"
