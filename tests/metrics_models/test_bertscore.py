"""BERTScore: the suite's numbers equal bert_score's own, on the released XRec Google predictions."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from xrec_bench import config as run_config
from xrec_bench.config import plugin_layer
from xrec_bench.data.fetch import ensure_file
from xrec_bench.data.safe_pickle import load_string_list
from xrec_bench.errors import MetricUnavailable, UserError
from xrec_bench.files import sha256_of
from xrec_bench.metrics.bertscore import BERTScore, shipped_baseline
from xrec_bench.metrics.bertscore_baseline import calibrate_baseline, draw_pairs
from xrec_bench.metrics.evaluate_modules import compute
from xrec_bench.models import resolve
from xrec_bench.plugin import RunContext

MINILM = "all-minilm-l6-v2"


@pytest.fixture(scope="module")
def google_pairs(mirror):
    predictions = load_string_list(ensure_file("google", "tst_pred.pkl"))
    references = load_string_list(ensure_file("google", "tst_ref.pkl"))
    assert len(predictions) == len(references) == 3000
    return predictions, references


def direct_bert_score(predictions, references):
    """bert_score.score called directly: the local model directory, its layer and the shipped baseline file."""
    import bert_score

    return bert_score.score(predictions, references, model_type=resolve(MINILM), num_layers=6, lang="en",
                            rescale_with_baseline=True, baseline_path=str(shipped_baseline(MINILM)),
                            batch_size=64)


def check_parity(predictions, references):
    metric = BERTScore(plugin_layer(BERTScore, "cpu"))
    results = metric.score(predictions, references, RunContext())
    direct = direct_bert_score(predictions, references)
    for name, values in zip(("bertscore_p", "bertscore_r", "bertscore_f1"), direct):
        expected = values.double().numpy()
        result = results[name]
        assert result.per_sample == pytest.approx(expected.tolist(), abs=1e-6)
        assert result.value == pytest.approx(float(expected.mean()), abs=1e-6)
        assert result.std == pytest.approx(float(expected.std()), abs=1e-6)
        assert result.n == len(predictions)
        assert result.config == {"model": MINILM, "num_layers": 6, "idf": False, "rescale": True,
                                 "baseline": sha256_of(shipped_baseline(MINILM)), "lang": "en",
                                 "precision": "fp32", "bert_score": "0.3.13"}
    return results


def test_cpu_profile_equals_bert_score_on_released_google_predictions(google_pairs):
    predictions, references = google_pairs
    results = check_parity(predictions[:256], references[:256])
    assert -1.0 < results["bertscore_f1"].value < 1.0 and results["bertscore_f1"].std > 0


@pytest.mark.slow
def test_cpu_profile_equals_bert_score_on_all_3000_released_google_predictions(google_pairs):
    results = check_parity(*google_pairs)
    print({name: (r.value, r.std) for name, r in results.items()})


def test_shipped_baseline_is_documented_and_matches_its_record():
    import json

    path = shipped_baseline(MINILM)
    assert path is not None
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert [int(row["LAYER"]) for row in rows] == list(range(7))
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["baseline_sha256"] == sha256_of(path)
    assert record["model"] == MINILM and record["seed"] == 0 and record["n_pairs"] >= 10_000
    assert set(record["corpus"]["files"]) == {"amazon/tst.pkl", "google/tst.pkl", "yelp/tst.pkl"}
    assert all(0.0 < float(row[k]) < 1.0 for row in rows for k in "PRF")


def test_draw_pairs_is_seeded_and_never_pairs_a_row_with_itself():
    rows = [f"d:{i // 3}" for i in range(30)]
    pairs = draw_pairs(rows, 200, seed=7)
    assert pairs == draw_pairs(rows, 200, seed=7) and pairs != draw_pairs(rows, 200, seed=8)
    assert all(rows[i] != rows[j] for i, j in pairs)


def test_calibration_rows_are_per_layer_means_of_unrescaled_bertscore(tmp_path):
    from bert_score import BERTScorer

    texts = ["the tacos are great", "a quiet park for walks", "cheap pizza with many toppings",
             "the novel has a clever twist", "friendly staff and fast service", "the hotel room was clean"]
    rows = [f"r:{i}" for i in range(len(texts))]
    output = calibrate_baseline(MINILM, tmp_path / "b.tsv", n_pairs=12, seed=3, batch_size=4,
                                corpus=(texts, rows, {"synthetic": "-"}))
    table = list(csv.DictReader(output.read_text().splitlines()))
    pairs = draw_pairs(rows, 12, 3)
    for layer in (1, 6):
        scorer = BERTScorer(model_type=resolve(MINILM), num_layers=layer, lang="en")
        precision, _, f1 = scorer.score([texts[i] for i, _ in pairs], [texts[j] for _, j in pairs])
        assert float(table[layer]["P"]) == pytest.approx(float(precision.double().mean()), abs=2e-7)
        assert float(table[layer]["F"]) == pytest.approx(float(f1.double().mean()), abs=2e-7)
    again = calibrate_baseline(MINILM, tmp_path / "again.tsv", n_pairs=12, seed=3, batch_size=4,
                               corpus=(texts, rows, {"synthetic": "-"}))
    assert again.read_text() == output.read_text()


def test_paper_profile_without_roberta_large_is_skipped(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    metric = BERTScore(plugin_layer(BERTScore, "paper"))
    with pytest.raises(MetricUnavailable, match="roberta-large"):
        metric.score(["a"], ["b"], RunContext())


def test_std_is_numpy_population_std():
    from xrec_bench.metrics.per_sample import summarise
    from xrec_bench.plugin import ValueSpec

    result = summarise([1.0, 2.0, 4.0], {}, declared=ValueSpec("sample"))
    assert result.value == pytest.approx(7 / 3) and result.std == pytest.approx(np.std([1.0, 2.0, 4.0]))


def test_bf16_precision_is_recorded_and_close_to_fp32(google_pairs):
    predictions, references = (part[:32] for part in google_pairs)
    fp32 = BERTScore(plugin_layer(BERTScore, "cpu")).score(predictions, references, RunContext())
    bf16 = BERTScore({**plugin_layer(BERTScore, "cpu"), "precision": "bf16"}).score(predictions, references,
                                                                                   RunContext())
    assert bf16["bertscore_f1"].config["precision"] == "bf16" and fp32["bertscore_f1"].config["precision"] == "fp32"
    gap = max(abs(a - b) for a, b in zip(bf16["bertscore_f1"].per_sample, fp32["bertscore_f1"].per_sample))
    assert 0 < gap < 0.05  # a different computation (bf16 products), close to fp32's scores


def test_an_unknown_precision_is_refused_in_one_sentence():
    sentence = r"metrics\.bertscore\.precision must be one of fp32, bf16, not 'fp16'"
    with pytest.raises(UserError, match=sentence):
        run_config.resolve(method=None, dataset="yelp-mini", metric_names=["bertscore"],
                           assignments=["metrics.bertscore.precision=fp16"])
    with pytest.raises(UserError, match=sentence):  # the evaluate module's settings skip resolve
        compute("bertscore", ["a"], ["b"], {"precision": "fp16"})
