"""The HTML board in a real headless browser: its columns sort on a click and it fits a 1400-pixel window.

Opt-in by having a browser: it runs where Chromium (or Chrome) is installed, or where
XREC_BENCH_BROWSER names one, and skips with that reason elsewhere (e.g. `apt-get install chromium`).
"""

import json
import os
import shutil
import subprocess

import pytest
from xrec_bench.leaderboard import build_leaderboard

from tests.leaderboard.boards import make_three_methods

BROWSER = os.environ.get("XREC_BENCH_BROWSER") or next(
    (found for name in ("chromium", "chromium-browser", "google-chrome", "chrome")
     if (found := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no headless browser installed (chromium or chrome; "
                                                        "or set XREC_BENCH_BROWSER)")

# Runs after the page's own script: sorts the main table by its BERTScore-F1 column twice, reads the
# order of the rows each time, measures the page, and writes what it found into the DOM.
PROBE = """
<script>
(function () {
  var table = document.getElementById("main-table");
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var column = heads.findIndex(function (th) { return th.textContent.indexOf("BERTScore-F1") === 0; });
  function order() {
    return Array.prototype.map.call(table.tBodies[0].rows, function (row) { return row.cells[0].textContent; });
  }
  var before = order();
  heads[column].click();
  var ascending = order();
  heads[column].click();
  var descending = order();
  var found = {before: before, ascending: ascending, descending: descending,
               sort: heads[column].getAttribute("aria-sort"),
               scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth};
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
})();
</script>
"""


def test_columns_sort_on_click_and_the_page_fits_1400_pixels(tmp_path):
    make_three_methods(tmp_path / "runs")
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    page = (tmp_path / "boards" / "yelp-mini.html").read_text()
    probe_page = tmp_path / "probe.html"
    probe_page.write_text(page.replace("</body>", PROBE + "</body>"))
    done = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
                           "--virtual-time-budget=2000", "--dump-dom", probe_page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout.split('<pre id="probe">', 1)[1].split("</pre>", 1)[0].replace("&quot;", '"'))
    assert found["before"] == ["close", "good", "poor"]  # rows in label order as built
    assert found["ascending"] == ["poor", "close", "good"] and found["descending"] == ["good", "close", "poor"]
    assert found["sort"] == "descending"
    assert found["innerWidth"] == 1400 and found["scrollWidth"] <= 1400


def widths(page: str, table_id: str, tmp_path) -> tuple[int, int, int]:
    """The page's width and the scroll and visible widths of the box around table ``table_id``, as a
    1400-pixel browser window lays them out."""
    probe = (f'<script>var box = document.getElementById("{table_id}").parentElement;'
             'var p = document.createElement("pre"); p.id = "probe"; p.textContent = '
             'JSON.stringify([document.documentElement.scrollWidth, box.scrollWidth, box.clientWidth]);'
             'document.body.appendChild(p);</script>')
    (tmp_path / "probe.html").write_text(page.replace("</body>", probe + "</body>"))
    done = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
                           "--virtual-time-budget=2000", "--dump-dom", (tmp_path / "probe.html").as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return tuple(json.loads(done.stdout.split('<pre id="probe">', 1)[1].split("</pre>", 1)[0]))


@pytest.mark.parametrize("cells_folder", ["grid-cells", "ablation-cells"])
def test_the_committed_boards_with_their_wide_detail_tables_fit_1400_pixels(tmp_path, cells_folder):
    """The page fits, and so does its main table, which needs no sideways scrolling (its headers wrap):
    the grid's yelp-mini board (six methods, three seeds, every headline metric the cpu profile scores),
    and the ablation board's (regression: its long method labels, such as "xrec [injection=input-only,
    profiles_in_prompt=false]", did not wrap and pushed ROUGE-L behind a scroll bar)."""
    from pathlib import Path

    cells = Path(__file__).parents[2] / "leaderboards" / cells_folder / "results" / "yelp-mini"
    shutil.copytree(cells, tmp_path / "results" / "yelp-mini")
    build_leaderboard(tmp_path / "results", tmp_path / "boards", warn=lambda line: None)
    page_width, main_width, main_box = widths((tmp_path / "boards" / "yelp-mini.html").read_text(), "main-table",
                                              tmp_path)
    assert page_width <= 1400 and main_width <= main_box, (page_width, main_width, main_box)


def test_the_reported_table_of_the_released_yelp_board_wraps_its_sources_instead_of_scrolling(tmp_path):
    """Regression: the reported rows' source and setting sentences did not wrap, so their numbers sat
    beyond a 1400-pixel window, behind a scroll bar."""
    from pathlib import Path

    boards = Path(__file__).parents[2] / "leaderboards"
    shutil.copytree(boards / "released" / "results" / "yelp", tmp_path / "results" / "yelp")
    build_leaderboard(tmp_path / "results", tmp_path / "boards", reported=boards / "reported.yaml",
                      warn=lambda line: None)
    page = (tmp_path / "boards" / "yelp.html").read_text()
    assert 'id="reported-table"' in page
    page_width, table_width, box = widths(page, "reported-table", tmp_path)
    assert page_width <= 1400 and table_width <= box, (page_width, table_width, box)
