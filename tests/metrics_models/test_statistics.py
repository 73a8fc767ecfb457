"""Bootstrap confidence intervals, the paired bootstrap test, and comparing two runs' sample files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from xrec_bench.errors import UserError
from xrec_bench.results import RunResult
from xrec_bench.statistics import bootstrap_ci, compare_runs, paired_bootstrap


def test_bootstrap_ci_of_a_constant_is_the_constant():
    assert bootstrap_ci([0.25] * 50, seed=1) == [0.25, 0.25]
    assert bootstrap_ci([], seed=0) is None


def test_bootstrap_ci_is_seeded_and_matches_the_normal_interval():
    values = np.random.default_rng(0).normal(3.0, 2.0, size=2000)
    low, high = bootstrap_ci(values, seed=5, n_resamples=4000)
    assert [low, high] == bootstrap_ci(values, seed=5, n_resamples=4000)
    assert low < values.mean() < high
    half_width = 1.96 * values.std() / np.sqrt(values.size)
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.1)


def test_paired_bootstrap_of_identical_runs_finds_nothing():
    values = np.random.default_rng(1).random(300)
    test = paired_bootstrap(values, values, seed=0, n_resamples=500)
    assert test["difference"] == 0.0 and test["p_value"] == 1.0 and test["ci95"] == [0.0, 0.0]


def test_paired_bootstrap_detects_a_real_difference_and_not_noise():
    rng = np.random.default_rng(2)
    base = rng.normal(0.3, 0.1, size=400)
    better = base + 0.02 + rng.normal(0, 0.01, size=400)
    test = paired_bootstrap(better, base, seed=0, n_resamples=2000)
    assert test["difference"] == pytest.approx(float((better - base).mean()))
    assert test["p_value"] == pytest.approx(1 / 2001)
    assert test["ci95"][0] > 0
    noise = paired_bootstrap(base + rng.normal(0, 0.01, size=400), base, seed=0, n_resamples=2000)
    assert noise["p_value"] > 0.01


def test_paired_bootstrap_refuses_unequal_lengths():
    with pytest.raises(UserError, match="same test set"):
        paired_bootstrap([1.0, 2.0], [1.0], seed=0)


def write_run(directory, scores: dict[str, list[float | None]], configs: dict[str, dict]):
    directory.mkdir(parents=True)
    n = len(next(iter(scores.values())))
    with open(directory / "samples.jsonl", "w") as handle:
        for index in range(n):
            row = {"sample_id": f"google:{index}", "prediction": "p", "reference": "r",
                   "scores": {name: values[index] for name, values in scores.items()}}
            handle.write(json.dumps(row) + "\n")
    metrics = {name: {"metric": name, "status": "ok", "value": 0.0, "config": configs.get(name, {})}
               for name in scores}
    RunResult(run_id=directory.name, profile="cpu", seed=0, method={"name": "m", "config": {}},
              dataset={"name": "google"}, metrics=metrics, training=None, environment={}).to_disk(directory)
    return directory


def test_compare_runs_pairs_samples_by_id_and_refuses_mixed_configs(tmp_path):
    rng = np.random.default_rng(3)
    f1 = rng.random(100).tolist()
    run_a = write_run(tmp_path / "a", {"bertscore_f1": [v + 0.1 for v in f1], "bleu4": f1},
                      {"bertscore_f1": {"model": "m"}, "bleu4": {"tokenizer": "x"}})
    run_b = write_run(tmp_path / "b", {"bertscore_f1": f1, "bleu4": f1},
                      {"bertscore_f1": {"model": "m"}, "bleu4": {"tokenizer": "y"}})
    comparison = compare_runs(run_a, run_b, n_resamples=500)
    assert comparison["bertscore_f1"]["status"] == "ok"
    assert comparison["bertscore_f1"]["difference"] == pytest.approx(0.1)
    assert comparison["bertscore_f1"]["p_value"] == pytest.approx(1 / 501)
    assert comparison["bleu4"]["status"] == "skipped" and "different configs" in comparison["bleu4"]["reason"]


def test_compare_runs_on_different_test_sets_is_a_user_error(tmp_path):
    run_a = write_run(tmp_path / "a", {"usr": [1.0, 2.0]}, {})
    run_b = write_run(tmp_path / "b", {"usr": [1.0, 2.0, 3.0]}, {})
    with pytest.raises(UserError, match="same test set"):
        compare_runs(run_a, run_b)
    with pytest.raises(UserError, match="samples.jsonl"):
        compare_runs(tmp_path / "a", tmp_path / "missing")


def test_missing_scores_drop_out_of_intervals_and_pairings(tmp_path):
    assert bootstrap_ci([0.5, None, 0.5], seed=0) == [0.5, 0.5]
    run_a = write_run(tmp_path / "a", {"gptscore": [80.0, None, 60.0, 70.0]}, {})
    run_b = write_run(tmp_path / "b", {"gptscore": [70.0, 50.0, None, 60.0]}, {})
    comparison = compare_runs(run_a, run_b, n_resamples=200)["gptscore"]
    assert comparison["n"] == 2 and comparison["difference"] == pytest.approx(10.0)
