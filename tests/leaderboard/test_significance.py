"""The significance marks' procedure: Holm across a column, two-sided p-values, one metric config per
column, and pairs compared on the samples both have a score for. Each board here is built so that the
wrong procedure gives a different mark."""

import csv
import io
import json
import random
import shutil

import numpy as np
from xrec_bench.leaderboard import build_leaderboard
from xrec_bench.statistics import DEFAULT_RESAMPLES, resampled_indices, shifted_null_p_value

from tests.leaderboard.boards import make_three_methods, references, write_run

N = 60
BERT = "bertscore_f1 [all-minilm-l6-v2]"


def verdicts(boards, column=BERT):
    rows = csv.DictReader(io.StringIO((boards / "yelp-mini.csv").read_text()))
    return {row["method"]: row[f"{column} significance"] for row in rows}


def shifted_by(noise_seed, z):
    """Per-sample differences whose mean is ``z`` standard errors above 0, and their bootstrap p-value
    (two-sided, the board's own resamples)."""
    rng = random.Random(noise_seed)
    noise = np.asarray([rng.gauss(0.0, 0.05) for _ in range(N)])
    noise -= noise.mean()
    differences = noise + z * noise.std(ddof=1) / N ** 0.5
    indices = resampled_indices(N, DEFAULT_RESAMPLES, 0)
    p = shifted_null_p_value(float(differences.mean()), differences[indices].mean(axis=1))
    return differences, p


def write_methods(root, shifts):
    refs = references(N)
    rng = random.Random(7)
    best = [0.6 + rng.uniform(-0.1, 0.1) for _ in refs]
    write_run(root, "best", 0, refs, refs, best)
    for method, differences in shifts.items():
        write_run(root, method, 0, refs, refs, [b - float(d) for b, d in zip(best, differences)])


def test_holm_corrects_across_the_column_so_two_near_misses_are_both_tied(tmp_path):
    shifts, raw = {}, {}
    for method, noise_seed in (("near-a", 1), ("near-b", 2)):
        shifts[method], raw[method] = shifted_by(noise_seed, 2.15)
    # Each alone is significant at 0.05; Holm's smallest adjusted p is twice the smallest raw one.
    assert all(0.025 < p < 0.05 for p in raw.values()), raw
    write_methods(tmp_path / "runs", shifts)
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    assert verdicts(tmp_path / "boards") == {"best": "best", "near-a": "tied", "near-b": "tied"}


def test_a_single_comparison_is_uncorrected_and_significant_below_alpha(tmp_path):
    differences, p = shifted_by(1, 2.15)
    assert 0.025 < p < 0.05
    write_methods(tmp_path / "runs", {"near-a": differences})
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    assert verdicts(tmp_path / "boards") == {"best": "best", "near-a": "worse"}


def test_the_p_value_is_two_sided(tmp_path):
    differences, p = shifted_by(3, 1.8)
    assert 0.05 < p < 0.1, p  # a one-sided test would find this difference significant
    write_methods(tmp_path / "runs", {"near": differences})
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    assert verdicts(tmp_path / "boards") == {"best": "best", "near": "tied"}


def test_a_column_tests_only_the_runs_scored_under_its_own_metric_config(tmp_path):
    """Regression: a row holding runs of one value under two configs (MiniLM and RoBERTa BERTScore) mixed
    the other config's per-sample scores into each column's bootstrap."""
    make_three_methods(tmp_path / "runs", seeds=(0,))
    source = tmp_path / "runs" / "yelp-mini" / "good" / "s0-good"
    other = source.parent / "s0-good-roberta"
    shutil.copytree(source, other)
    result = json.loads((source / "result.json").read_text())
    result["run_id"] = other.name
    result["metrics"] = {"bertscore_f1": {**result["metrics"]["bertscore_f1"], "value": 0.1, "std": 0.0,
                                          "config": {"model": "roberta-large", "num_layers": 17, "rescale": True}}}
    (other / "result.json").write_text(json.dumps(result))
    lines = [json.loads(line) for line in (other / "samples.jsonl").read_text().splitlines()]
    (other / "samples.jsonl").write_text("".join(json.dumps({**row, "scores": {"bertscore_f1": 0.1}}) + "\n"
                                                 for row in lines))
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    rows = {row["method"]: row for row in csv.DictReader(io.StringIO((tmp_path / "boards" / "yelp-mini.csv").read_text()))}
    good = rows["good"]
    assert float(good[f"{BERT} ci95 low"]) < float(good[BERT]) < float(good[f"{BERT} ci95 high"])
    assert verdicts(tmp_path / "boards")["good"] == "best"
    assert verdicts(tmp_path / "boards", "bertscore_f1 [roberta-large]")["good"] == ""  # alone in its column


def test_a_pair_is_compared_on_the_samples_both_have_a_score_for(tmp_path):
    """Where one method's scores are missing for the samples the other does best on, the two means differ
    by the missing samples alone: on the samples both were scored on, the scores are equal."""
    refs = references(N)
    rng = random.Random(5)
    best = [0.95 if i < 20 else 0.5 + rng.uniform(-0.05, 0.05) for i in range(N)]
    write_run(tmp_path / "runs", "best", 0, refs, refs, best)
    gappy = write_run(tmp_path / "runs", "gappy", 0, refs, refs, best)
    lines = [json.loads(line) for line in (gappy / "samples.jsonl").read_text().splitlines()]
    for row in lines[:20]:
        row["scores"]["bertscore_f1"] = None  # e.g. a judge reply that never parsed
    (gappy / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in lines))
    result = json.loads((gappy / "result.json").read_text())
    result["metrics"]["bertscore_f1"]["value"] = float(np.mean(best[20:]))
    (gappy / "result.json").write_text(json.dumps(result))
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    assert verdicts(tmp_path / "boards") == {"best": "best", "gappy": "tied"}


def test_a_row_better_on_the_samples_the_pair_shares_is_not_marked_worse(tmp_path):
    """The reference is the best by its own mean; where missing scores leave the other row significantly
    better on the shared samples, it is not significantly worse."""
    refs = references(N)
    rng = random.Random(6)
    best = [0.95 if i < 20 else 0.5 + rng.uniform(-0.05, 0.05) for i in range(N)]
    write_run(tmp_path / "runs", "best", 0, refs, refs, best)
    gappy = write_run(tmp_path / "runs", "gappy", 0, refs, refs, [b + 0.1 for b in best])
    lines = [json.loads(line) for line in (gappy / "samples.jsonl").read_text().splitlines()]
    for row in lines[:20]:
        row["scores"]["bertscore_f1"] = None
    (gappy / "samples.jsonl").write_text("".join(json.dumps(row) + "\n" for row in lines))
    result = json.loads((gappy / "result.json").read_text())
    result["metrics"]["bertscore_f1"]["value"] = float(np.mean([b + 0.1 for b in best[20:]]))  # 0.60 < 0.65
    (gappy / "result.json").write_text(json.dumps(result))
    build_leaderboard(tmp_path / "runs", tmp_path / "boards")
    assert verdicts(tmp_path / "boards") == {"best": "best", "gappy": "tied"}
