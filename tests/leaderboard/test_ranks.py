"""The main table's Rank column and the index's ranks across datasets: ties, missing cells, values
that are not numbers, and one method under one name across boards."""

import json
import signal

import pytest
from xrec_bench.leaderboard import build_leaderboard

from tests.leaderboard.boards import make_three_methods, references, write_run
from tests.leaderboard.test_main_table import main_rows


def edit_result(run_dir, change):
    path = run_dir / "result.json"
    result = json.loads(path.read_text())
    change(result)
    path.write_text(json.dumps(result))


def ranks(boards, dataset="yelp-mini"):
    return {label: row["Rank"] for label, row in main_rows((boards / f"{dataset}.md").read_text()).items()}


def test_methods_equal_in_every_column_share_the_mean_of_their_places(tmp_path):
    refs = references(60)
    for method, score in (("twin-a", 0.6), ("twin-b", 0.6), ("worse", 0.3)):
        predictions = refs if score > 0.5 else [r[::-1] for r in refs]
        write_run(tmp_path / "runs", method, 0, predictions, refs, [score] * 60)
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    # BERTScore-F1 and BLEU-4: twins 1.5 each, worse 3; USR (every prediction unique): all three tie at 2.
    assert ranks(tmp_path / "boards") == {"twin-a": "1.5 (1.67)", "twin-b": "1.5 (1.67)", "worse": "3 (2.67)"}


def test_a_method_missing_a_column_is_not_ranked_on_fewer_columns_than_the_others(tmp_path):
    """Regression: each method's mean rank was over the columns it has, so a method scored on BERTScore
    alone (third there) tied with one last in BERTScore and BLEU-4 (ranks 4, 2, 3: also a mean of 3)."""
    make_three_methods(tmp_path / "runs", seeds=(0,))
    refs = references(60)
    narrow = write_run(tmp_path / "runs", "narrow", 0, [r[::-1] for r in refs], refs, [0.59] * 60)
    edit_result(narrow, lambda result: [result["metrics"].pop(name) for name in ("bleu4", "usr")])
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    # By BERTScore-F1 alone (good 0.606 > close 0.605 > narrow 0.59 > poor 0.18): the only column all four have.
    assert ranks(tmp_path / "boards") == {"good": "1 (1.00)", "close": "2 (2.00)", "narrow": "3 (3.00)",
                                          "poor": "4 (4.00)"}
    markdown = (tmp_path / "boards" / "yelp-mini.md").read_text()
    assert "Not used for the rank (a ranked method has no value there): USR, BLEU-4." in markdown


def test_a_value_that_is_not_a_number_is_left_out_of_the_rank_instead_of_hanging_the_build(tmp_path):
    make_three_methods(tmp_path / "runs", seeds=(0,))
    edit_result(tmp_path / "runs" / "yelp-mini" / "poor" / "s0-poor",
                lambda result: result["metrics"]["bleu4"].update(value=float("nan")))

    def stuck(*_):
        raise TimeoutError("the leaderboard build did not finish in 60 s")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(60)
    try:
        build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    markdown = (tmp_path / "boards" / "yelp-mini.md").read_text()
    assert "Not used for the rank (a ranked method has no value there): BLEU-4." in markdown
    assert ranks(tmp_path / "boards")["good"] == "1 (1.50)"  # BERTScore-F1 1, USR (all unique) tied at 2


@pytest.mark.parametrize("configs_on_yelp", [1, 2])
def test_the_index_follows_a_method_by_its_config_across_boards_whatever_each_board_labels_it(tmp_path,
                                                                                             configs_on_yelp):
    """Regression: the index joined boards by label, and a board tags a name only where it has two configs
    of it, so one method was `xrec` on one board and `xrec [lr=0.001]` on the other: two index rows."""
    refs = references(60)
    runs = tmp_path / "runs"
    learning_rates = {"amazon-mini": [0.001], "yelp-mini": [0.001, 0.01][:configs_on_yelp]}
    for dataset, rates in learning_rates.items():
        write_run(runs, "poor", 0, [r[::-1] for r in refs], refs, [0.1] * 60, dataset=dataset)
        for rate in rates:
            run = write_run(runs, "xrec", 0, refs, refs, [0.9 - rate] * 60, dataset=dataset)
            moved = run.with_name(f"{run.name}-{rate}")
            run.rename(moved)

            def set_rate(result, rate=rate, moved=moved):
                result["method"]["config"]["lr"] = rate
                result["run_id"] = moved.name

            edit_result(moved, set_rate)
    build_leaderboard(runs, tmp_path / "boards")
    table = (tmp_path / "boards" / "index.md").read_text().split("## Ranks across datasets", 1)[1]
    xrec_rows = [line for line in table.splitlines() if line.startswith("| xrec")]
    if configs_on_yelp == 1:
        assert xrec_rows == ["| xrec | 1 | 1 | 1.00 | 2 |"]
    else:
        assert len(xrec_rows) == 2
        assert next(row for row in xrec_rows if "0.001" in row).endswith("| 1 | 1 | 1.00 | 2 |")
        assert next(row for row in xrec_rows if "0.01]" in row).endswith("|  | 2 | 2.00 | 1 |")
