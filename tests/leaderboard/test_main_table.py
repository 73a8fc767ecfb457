"""The main table, its significance marks, reported rows, the cross-dataset ranks and the manifest."""

import csv
import gzip
import io
import json
import random
import shutil
import time

import pytest
from click.testing import CliRunner
from xrec_bench.cli import main
from xrec_bench.errors import UserError
from xrec_bench.leaderboard import build_leaderboard
from xrec_bench.statistics import compare_runs, holm_adjusted

from tests.leaderboard.boards import WORDS, make_three_methods, references, write_run


@pytest.fixture
def three(tmp_path):
    make_three_methods(tmp_path / "runs")
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    return tmp_path


def main_rows(markdown):
    block = markdown.split("## Main table\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    headers = [h.strip() for h in block[0].strip("|").split(" | ")]
    return {cells[0]: dict(zip(headers, cells)) for cells in
            ([c.strip() for c in line.strip().strip("|").split(" | ")] for line in block[2:])}


def csv_rows(path):
    return {row["method"]: row for row in csv.DictReader(io.StringIO(path.read_text()))}


def test_main_table_has_the_papers_columns_mean_and_seed_std_and_collapses_skipped_metrics(three):
    markdown = (three / "boards" / "yelp-mini.md").read_text()
    rows = main_rows(markdown)
    assert list(rows["good"]) == ["Method", "Seeds", "n", "Rank", "BERTScore-F1 [all-minilm-l6-v2] ↑", "USR ↑",
                                  "BLEU-4 ↑"]  # the paper's order; BARTScore skipped everywhere: no column
    assert rows["good"]["BERTScore-F1 [all-minilm-l6-v2] ↑"].startswith("**0.6110 ± 0.0068**")
    assert "Not computed for any method: BARTScore [bart-large-cnn] (BART is not available offline.)" in markdown
    by_label = csv_rows(three / "boards" / "yelp-mini.csv")
    seeds = [json.loads((three / "runs" / "yelp-mini" / "good" / f"s{s}-good" / "result.json").read_text())
             ["metrics"]["bertscore_f1"]["value"] for s in (0, 1)]
    assert float(by_label["good"]["bertscore_f1 [all-minilm-l6-v2] seed std"]) == pytest.approx(
        abs(seeds[0] - seeds[1]) / 2 ** 0.5)
    # The per-sample std (stability) stays in the detail table, with the 95% bootstrap interval.
    detail = markdown.split("### bertscore\n\n", 1)[1].split("\n\n", 1)[0]
    low, high = float(by_label["good"]["bertscore_f1 [all-minilm-l6-v2] ci95 low"]), float(
        by_label["good"]["bertscore_f1 [all-minilm-l6-v2] ci95 high"])
    assert low < 0.6110 < high and f"**0.6110 ± 0.0558 [{low:.4f}, {high:.4f}]**" in detail


def test_significance_marks_the_methods_tied_with_the_best_and_says_how(three):
    rows = main_rows((three / "boards" / "yelp-mini.md").read_text())
    bert = "BERTScore-F1 [all-minilm-l6-v2] ↑"
    assert rows["good"][bert].endswith("‡")  # the best compared method
    assert rows["close"][bert].endswith("†")  # 0.002 lower with ±0.05 noise: not significantly different
    assert not rows["poor"][bert].endswith(("†", "‡"))  # 0.4 lower: significantly worse
    verdicts = {label: row["bleu4 significance"] for label, row in csv_rows(three / "boards" / "yelp-mini.csv").items()}
    assert verdicts == {"good": "best", "close": "worse", "poor": "worse"}  # BLEU-4 recomputed per resample
    markdown = (three / "boards" / "yelp-mini.md").read_text()
    assert "paired bootstrap over the sample ids (1000 resamples, seed 0" in markdown
    assert "two-sided, α = 0.05, Holm's correction across the methods compared in the column" in markdown


def test_corpus_values_are_recomputed_with_the_metrics_functions_and_checked(tmp_path):
    make_three_methods(tmp_path / "runs", seeds=(0,))
    path = tmp_path / "runs" / "yelp-mini" / "poor" / "s0-poor" / "result.json"
    result = json.loads(path.read_text())
    result["metrics"]["bleu4"]["value"] = 12.5  # not what its predictions give
    path.write_text(json.dumps(result))
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    markdown = (tmp_path / "boards" / "yelp-mini.md").read_text()
    assert "Not tested (BLEU-4): poor: its bleu4 recomputed from s0-poor's samples is 0, not the 12.5 of its " \
           "result.json." in markdown
    assert csv_rows(tmp_path / "boards" / "yelp-mini.csv")["poor"]["bleu4 significance"] == ""


def test_rows_without_samples_or_on_other_samples_are_not_tested_and_say_why(tmp_path):
    make_three_methods(tmp_path / "runs", seeds=(0,))
    (tmp_path / "runs" / "yelp-mini" / "poor" / "s0-poor" / "samples.jsonl").unlink()
    refs = references(40)
    write_run(tmp_path / "runs", "short", 0, refs, refs, [0.9] * 40)  # 40 samples, not 60
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    markdown = (tmp_path / "boards" / "yelp-mini.md").read_text()
    assert "Not tested (every column): poor: no samples.jsonl beside s0-poor; short: scored on other test " \
           "samples (n = 40, not 60)." in markdown
    rows = main_rows(markdown)
    assert rows["good"]["BERTScore-F1 [all-minilm-l6-v2] ↑"].endswith("‡")  # short's 0.9 is not the reference
    assert rows["short"]["BERTScore-F1 [all-minilm-l6-v2] ↑"] == "**0.9000**"


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm_adjusted([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjusted([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert holm_adjusted([]) == []


def test_boards_with_samples_are_byte_identical_on_rebuild(three):
    again = three / "again"
    build_leaderboard(three / "runs", again)
    for path in sorted((three / "boards").iterdir()):
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_a_rebuild_of_six_methods_on_300_samples_takes_seconds(tmp_path):
    refs = references(300)
    for m in range(6):
        rng = random.Random(m)
        predictions = [r if rng.random() < 0.3 else " ".join(rng.choice(WORDS) for _ in range(12)) for r in refs]
        write_run(tmp_path / "runs", f"method{m}", 0, predictions, refs, [rng.random() for _ in refs])
    started = time.perf_counter()
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    assert time.perf_counter() - started < 20.0
    verdicts = csv_rows(tmp_path / "boards" / "yelp-mini.csv")
    assert sorted(row["bleu4 significance"] for row in verdicts.values()).count("best") == 1


def test_the_index_ranks_each_method_per_dataset_and_averages_the_ranks(tmp_path):
    make_three_methods(tmp_path / "runs", seeds=(0,))
    refs = references(60)
    write_run(tmp_path / "runs", "good", 0, refs, refs, [0.9] * 60, dataset="google-mini")
    write_run(tmp_path / "runs", "poor", 0, [r[::-1] for r in refs], refs, [0.1] * 60, dataset="google-mini")
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    index = (tmp_path / "boards" / "index.md").read_text()
    table = index.split("## Ranks across datasets", 1)[1]
    assert "| Method | google-mini | yelp-mini | Mean rank | Datasets |" in table
    assert "| good | 1 | 1 | 1.00 | 2 |" in table and "| close |  | 2 | 2.00 | 1 |" in table
    assert "| poor | 2 | 3 | 2.50 | 2 |" in table


REPORTED = """
reported:
  - board: yelp-mini
    method: XRec
    source: "A paper"
    table: "Table 9"
    setting: "full test set, a 7B backbone, some judge"
    values: {usr: 0.5, bertscore_f1: {mean: 0.99, std: 0.01}}
"""


def test_reported_rows_are_labelled_with_their_source_and_never_ranked_or_tested(three):
    (three / "reported.yaml").write_text(REPORTED)
    build_leaderboard(three / "runs", three / "out", reported=three / "reported.yaml")
    markdown = (three / "out" / "yelp-mini.md").read_text()
    block = markdown.split("### Reported\n\n", 1)[1].split("\n\n", 1)[0]
    assert "| XRec (reported) | A paper, Table 9 | full test set, a 7B backbone, some judge | 0.99 ± 0.01 | 0.5 |" \
        in block
    assert "XRec" not in markdown.split("### Reported", 1)[0]  # not a row of the main table
    main_table = main_rows(markdown)
    assert main_table["good"]["BERTScore-F1 [all-minilm-l6-v2] ↑"].startswith("**0.6110")  # 0.99 is not "best"
    assert "XRec" not in (three / "out" / "index.md").read_text() and "XRec" not in (three / "out" / "yelp-mini.csv").read_text()
    assert "XRec (reported)" in (three / "out" / "yelp-mini.html").read_text()
    assert "XRec (reported)" in (three / "out" / "yelp-mini.tex").read_text()


@pytest.mark.parametrize("text, message", [
    ("reported: {}", "top-level 'reported:' list"),
    ("reported:\n  - {board: x, method: y}", "must have exactly the keys"),
    (REPORTED.replace("usr: 0.5", "usr: high"), "must be a number"),
])
def test_a_malformed_reported_file_is_one_sentence(three, text, message):
    (three / "bad.yaml").write_text(text)
    with pytest.raises(UserError, match=message):
        build_leaderboard(three / "runs", three / "out", reported=three / "bad.yaml")
    assert not (three / "out").exists()


def test_the_committed_reported_file_is_valid():
    from pathlib import Path

    from xrec_bench.leaderboard.reported import read_reported

    boards = Path(__file__).parents[2] / "leaderboards"
    rows = read_reported(boards / "reported.yaml")
    # A row whose board name matches no committed board would be dropped without a word; and the committed
    # board it names must have been built with the file (--reported), so that it shows the row.
    folders = (boards / "grid-cells" / "results" / "boards", boards / "released",
               boards / "ablation-cells" / "results" / "boards")
    committed: dict[str, list[Path]] = {}
    for folder in folders:
        for path in folder.glob("*.csv"):
            if path.stem != "costs":
                committed.setdefault(path.stem, []).append(path.with_suffix(".md"))
    assert {"amazon-mini", "google-mini", "yelp-mini", "amazon", "yelp-mini-zeroshot"} <= set(committed)
    for row in rows:
        assert row.board in committed, row.board
        line = f"{row.label} | {row.source}, {row.table} |"
        assert any(line in board.read_text(encoding="utf-8") for board in committed[row.board]), row.board


def test_leaderboard_refuses_boards_built_from_other_results_unless_forced(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_three_methods(tmp_path / "mine", seeds=(0,))
    make_three_methods(tmp_path / "theirs", seeds=(1,))
    runner = CliRunner()
    assert runner.invoke(main, ["leaderboard", "--results", "theirs", "--out", "boards"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "boards").iterdir()}
    manifest = json.loads(before["built-from.json"])
    assert [entry["run"] for entry in manifest["results"]] == [
        "yelp-mini/close/s1-clos", "yelp-mini/good/s1-good", "yelp-mini/poor/s1-poor"]
    assert manifest["results"][0]["samples"] == "samples.jsonl.gz" and len(manifest["results"][0]["samples_sha256"]) == 64

    refused = runner.invoke(main, ["leaderboard", "--results", "mine", "--out", "boards"])
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1 and "built from other results" in refused.output
    assert "--force" in refused.output
    assert {p.name: p.read_bytes() for p in (tmp_path / "boards").iterdir()} == before  # nothing written

    # More runs in the same results directory: a rebuild, not someone else's board.
    make_three_methods(tmp_path / "theirs", seeds=(1, 2))
    assert runner.invoke(main, ["leaderboard", "--results", "theirs", "--out", "boards"]).exit_code == 0
    forced = runner.invoke(main, ["leaderboard", "--results", "mine", "--out", "boards", "--overwrite"])
    assert forced.exit_code == 0, forced.output
    assert "s0-good" in (tmp_path / "boards" / "built-from.json").read_text()


def test_leaderboard_refuses_boards_without_a_manifest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_three_methods(tmp_path / "runs", seeds=(0,))
    (tmp_path / "boards").mkdir()
    (tmp_path / "boards" / "index.md").write_text("# old boards\n")
    refused = CliRunner().invoke(main, ["leaderboard", "--out", "boards"])
    assert refused.exit_code == 2 and "no built-from.json" in refused.output
    assert CliRunner().invoke(main, ["leaderboard", "--out", "boards", "--force"]).exit_code == 0


def test_html_sorts_columns_and_draws_interval_error_bars(three):
    html = (three / "boards" / "yelp-mini.html").read_text()
    assert '<table class="sortable" id="main-table">' in html and "th[data-sortable]" in html
    chart = html.split('aria-label="bertscore_f1 [all-minilm-l6-v2] ↑"', 1)[1].split("</svg>", 1)[0]
    assert chart.count("<rect") == 3 and chart.count("<path") == 4  # 3 interval bars + the zero axis
    assert "95% bootstrap interval" in chart and "±" not in chart


def test_score_and_compare_read_gzipped_samples(tmp_path):
    from xrec_bench.score_files import read_texts

    make_three_methods(tmp_path / "runs", seeds=(0,))
    close = tmp_path / "runs" / "yelp-mini" / "close" / "s0-clos"
    rows = [json.loads(line) for line in gzip.decompress((close / "samples.jsonl.gz").read_bytes()).splitlines()]
    assert read_texts(close / "samples.jsonl.gz", "prediction") == [row["prediction"] for row in rows]
    shutil.copytree(close, tmp_path / "plain")
    (tmp_path / "plain" / "samples.jsonl").write_bytes(gzip.decompress((close / "samples.jsonl.gz").read_bytes()))
    (tmp_path / "plain" / "samples.jsonl.gz").unlink()
    assert compare_runs(close, tmp_path / "plain", n_resamples=50)["bertscore_f1"]["difference"] == 0.0
