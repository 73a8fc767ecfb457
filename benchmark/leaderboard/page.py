"""A board as one self-contained HTML page: the tables, the notes, and an inline SVG bar chart with ±std
error bars per metric value (no scripts, no external files)."""

from __future__ import annotations

import json
import math
from html import escape

from xrec_bench.leaderboard.board import Board, Column
from xrec_bench.leaderboard.tables import LEGEND, cell_numbers, header_text

LABEL_WIDTH, PLOT_WIDTH, VALUE_WIDTH = 230, 400, 130
BAR_HEIGHT, BAR_GAP, TOP, BOTTOM = 18, 8, 30, 26
LABEL_CHARS = 34

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #d0d0d5; padding: 0.3rem 0.6rem; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
td.best { font-weight: bold; }
figure { margin: 0 0 1.5rem; }
code { font-size: 0.85rem; }
svg text { font-family: system-ui, sans-serif; font-size: 12px; fill: #1d1d1f; }
""".strip()


def _n(value: float) -> str:
    """SVG coordinates with fixed precision, so pages are byte-identical across rebuilds."""
    return f"{value:.2f}"


def _table(board: Board, family: str) -> list[str]:
    columns = board.columns_of(family)
    heads = "".join(f"<th>{escape(h)}</th>" for h in ["Method", "Seeds", "n", *map(header_text, columns)])
    lines = ["<table>", f"<thead><tr>{heads}</tr></thead>", "<tbody>"]
    for row in board.rows_of(family):
        cells = [f"<td>{escape(row.label)}</td>", f"<td>{len(row.seeds)}</td>", f"<td>{row.n_test or ''}</td>"]
        for column in columns:
            cell = row.cells.get(column.key)
            text = escape(cell_numbers(column, cell))
            if cell is not None and cell.note is not None:
                text += f'<sup><a href="#note-{cell.note}">{cell.note}</a></sup>'
            css = ' class="best"' if cell is not None and cell.best else ""
            cells.append(f"<td{css}>{text}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return lines + ["</tbody>", "</table>"]


def bar_chart(board: Board, column: Column) -> str:
    """Horizontal bars (one per row with a value), error bars at ±std, the zero line marked."""
    bars = [(row.label, cell.mean, cell.std or 0.0, cell.best) for row in board.rows
            if (cell := row.cells.get(column.key)) is not None and cell.mean is not None
            and math.isfinite(cell.mean)]
    if not bars:
        return ""
    low = min(0.0, *(mean - std for _, mean, std, _ in bars))
    high = max(0.0, *(mean + std for _, mean, std, _ in bars))
    high = high if high > low else low + 1.0

    def x(value: float) -> float:
        return LABEL_WIDTH + (value - low) / (high - low) * PLOT_WIDTH

    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    height = TOP + len(bars) * (BAR_HEIGHT + BAR_GAP) + BOTTOM
    title = header_text(column)
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'),
             f"<title>{escape(title)} (error bars: ±std over samples)</title>",
             f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>']
    for index, (label, mean, std, best) in enumerate(bars):
        y = TOP + index * (BAR_HEIGHT + BAR_GAP)
        middle = y + BAR_HEIGHT / 2
        shown = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
        parts.append(f'<text x="{_n(LABEL_WIDTH - 8)}" y="{_n(middle + 4)}" text-anchor="end">'
                     f"<title>{escape(label)}</title>{escape(shown)}</text>")
        left, right = sorted((x(0.0), x(mean)))
        fill = "#2f6db5" if best else "#8fb3de"
        parts.append(f'<rect x="{_n(left)}" y="{_n(y)}" width="{_n(right - left)}" height="{BAR_HEIGHT}" '
                     f'fill="{fill}"/>')
        if std > 0:
            a, b = x(mean - std), x(mean + std)
            parts.append(f'<path d="M{_n(a)} {_n(middle)}H{_n(b)}M{_n(a)} {_n(y + 4)}V{_n(y + BAR_HEIGHT - 4)}'
                         f'M{_n(b)} {_n(y + 4)}V{_n(y + BAR_HEIGHT - 4)}" stroke="#1d1d1f" fill="none"/>')
        value_text = column.format(mean) + (f" ± {column.format(std)}" if std > 0 else "")
        parts.append(f'<text x="{_n(max(x(0.0), x(mean + std)) + 6)}" y="{_n(middle + 4)}">'
                     f"{escape(value_text)}</text>")
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
             f"<title>{escape(title)}</title>", f"<style>\n{STYLE}\n</style>", "</head>", "<body>",
             f"<h1>{escape(title)}</h1>",
             (f"<p>Built by <code>xrec-bench leaderboard</code> from {board.run_count} complete result files "
             f"alone.</p>"), f"<p>{escape(LEGEND)}</p>"]
    if board.mixed_test_sets:
        lines.append(f"<p><strong>Note:</strong> {escape(board.mixed_test_sets)}</p>")
    for family in board.families:
        lines += [f"<h2>{escape(family)}</h2>", *_table(board, family)]
    if board.notes:
        lines += ["<h2>Notes</h2>", "<ol>"]
        lines += [f'<li id="note-{i}">{escape(note)}</li>' for i, note in enumerate(board.notes, 1)]
        lines.append("</ol>")
    lines.append("<h2>Charts</h2>")
    for family in board.families:
        charts = [chart for column in board.columns_of(family) if (chart := bar_chart(board, column))]
        if charts:
            lines += [f"<h3>{escape(family)}</h3>", *(f"<figure>{chart}</figure>" for chart in charts)]
    lines += ["<h2>Runs</h2>", "<table>",
              ("<thead><tr><th>Method</th><th>Method config</th><th>Profile</th><th>Seeds</th><th>Runs</th>"
              "</tr></thead>"), "<tbody>"]
    for row in board.rows:
        lines.append(f"<tr><td>{escape(row.label)}</td><td><code>{row.key}</code></td>"
                     f"<td>{escape(', '.join(row.profiles))}</td><td>{', '.join(map(str, row.seeds))}</td>"
                     f"<td>{escape(', '.join(row.run_ids))}</td></tr>")
    lines += ["</tbody>", "</table>", "<h2>Column configs</h2>", "<ul>"]
    for column in board.columns:
        config = json.dumps(column.config, sort_keys=True, ensure_ascii=False)
        lines.append(f"<li><code>{escape(column.header)}</code> ({escape(column.family)}, {column.level} level): "
                     f"<code>{escape(config)}</code></li>")
    lines += ["</ul>", "</body>", "</html>"]
    return "\n".join(lines) + "\n"
