"""Each metric as a Hugging Face evaluate module, loaded offline from the package: the same numbers."""

from __future__ import annotations

import pytest
from xrec_bench.config import plugin_layer
from xrec_bench.metrics.bertscore import BERTScore
from xrec_bench.metrics.evaluate_modules import metric_module_path
from xrec_bench.plugin import RunContext
from xrec_bench.registry import metrics

from tests.metrics_models.judge_server import ScriptedJudge

evaluate = pytest.importorskip("evaluate")

PREDICTIONS = ["The user would enjoy the tacos.", "Great coffee and friendly staff.", "Great coffee and friendly staff."]
REFERENCES = ["You would love the tacos here.", "The cafe has excellent espresso.", "A calm place to stroll."]


def test_every_registered_metric_has_a_module():
    for name in metrics.names():
        module = evaluate.load(metric_module_path(name))
        assert module.name.startswith("xrec") or module.name == name


def test_bertscore_module_gives_the_metrics_numbers():
    output = evaluate.load(metric_module_path("bertscore")).compute(predictions=PREDICTIONS, references=REFERENCES)
    direct = BERTScore(plugin_layer(BERTScore, "cpu")).score(PREDICTIONS, REFERENCES, RunContext())
    for name, result in direct.items():
        assert output[name] == pytest.approx(result.value, abs=1e-9)
        assert output[f"{name}_std"] == pytest.approx(result.std, abs=1e-9)
        assert output[f"{name}_scores"] == pytest.approx(result.per_sample, abs=1e-9)
        assert output[f"{name}_config"] == result.config


def test_gptscore_module_against_the_loopback_judge(tmp_path, monkeypatch):
    monkeypatch.setenv("XREC_TEST_JUDGE_KEY", "sk-module-test")
    script = dict(zip(PREDICTIONS, [60, 20, 20]))
    with ScriptedJudge(script) as server:
        output = evaluate.load(metric_module_path("gptscore")).compute(
            predictions=PREDICTIONS, references=REFERENCES, judge="openai", model="judge-test",
            base_url=server.url, api_key_env="XREC_TEST_JUDGE_KEY", cache_dir=str(tmp_path))
        assert server.calls == 3
    assert output["gptscore"] == pytest.approx(100 / 3)
    assert output["gptscore_scores"] == [60, 20, 20]


def test_a_metric_without_its_model_raises_the_reason(monkeypatch):
    from xrec_bench.errors import MetricUnavailable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MetricUnavailable, match="GPTScore needs a judge"):
        evaluate.load(metric_module_path("gptscore")).compute(predictions=PREDICTIONS, references=REFERENCES)
