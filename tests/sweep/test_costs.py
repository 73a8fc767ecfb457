"""The sweep's cost table: a row per cell and a per-method summary of the cells measured in full."""

from xrec_bench.sweep.costs import CostRow, to_markdown
from xrec_bench.sweep.grid import Cell


def cell(method, seed):
    return Cell("yelp-mini", method, "base", seed, {"seed": seed, "method": {"name": method}})


def test_the_summary_counts_only_cells_with_every_stage_measured():
    rows = [CostRow(cell("nrt", 0), "computed", 200.0, 1.0, 10.0, 2700.0, "EPYC"),
            CostRow(cell("nrt", 1), "computed", 210.0, 1.5, 10.5, 3300.0, "EPYC"),
            CostRow(cell("nrt", 2), "complete", None, 1.5, 10.5, 900.0, "EPYC"),  # fit loaded from an earlier run
            CostRow(cell("xrec", 0), "failed")]
    text = to_markdown(rows)
    assert "2 of 4 cells, 0.12 h of stage time in all" in text
    assert "| nrt | 2 of 3 | 211–222 | 433 | 3300.0 |" in text
    assert "| xrec | 0 of 1 |  | 0 |  |" in text
    assert "that row's peak is then the loading process's, not the fit's" in text
