"""The metric contract, over every registered metric: it returns one value per declared name, with the
declared level and direction, or is skipped with a reason, as the runner records it.

The default run scores with tiny models built from configs where a metric needs a large one (``TINY``)
and GPTScore with a scripted loopback judge; any other metric (a newly registered one too) runs with
its cpu profile. ``-m slow`` runs every cpu profile as it is.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

import pytest
from xrec_bench.config import merge, plugin_layer
from xrec_bench.errors import MetricUnavailable
from xrec_bench.plugin import MetricResult, RunContext, ValueSpec
from xrec_bench.registry import metrics

from tests.metrics_models.judge_server import ScriptedJudge

JUDGE_KEY = "XREC_CONTRACT_JUDGE_KEY"


def registered_metrics() -> list[str]:
    return [entry.name for entry in metrics.entries() if not entry.obj.__module__.startswith("tests.")]


@pytest.fixture(scope="module")
def pairs(mini_slice) -> tuple[list[str], list[str]]:
    """8 yelp-mini references, each predicted by the next record's explanation."""
    references = [r.explanation for r in mini_slice.test]
    return references[1:] + references[:1], references


@pytest.fixture
def tiny(tiny_bart, tiny_bleurt, pairs, monkeypatch):
    """Per metric, the settings that make it score with a tiny model or a scripted judge."""
    monkeypatch.setenv(JUDGE_KEY, "sk-contract-test")
    predictions, _ = pairs
    with ScriptedJudge({text: 10 * (position % 10) for position, text in enumerate(predictions)}) as judge:
        yield {"bartscore": {"model": tiny_bart, "batch_size": 4},
               "bleurt": {"checkpoint": tiny_bleurt, "batch_size": 4},
               "gptscore": {"judge": "openai", "model": "judge-test", "base_url": judge.url,
                            "api_key_env": JUDGE_KEY, "concurrency": 2}}


def scored_as_the_runner_records(name: str, config: dict[str, Any], predictions, references,
                                 ctx: RunContext) -> dict[str, MetricResult]:
    cls = metrics.get(name)
    try:
        return cls(config).score(list(predictions), list(references), ctx)
    except MetricUnavailable as reason:
        assert str(reason).strip(), f"{name} was unavailable without saying why"
        return cls.skipped(str(reason), config)


def check_contract(name: str, config: dict[str, Any], pairs, tmp_path) -> dict[str, MetricResult]:
    predictions, references = pairs
    cls = metrics.get(name)
    results = scored_as_the_runner_records(name, config, predictions, references,
                                           RunContext(seed=0, cache_dir=tmp_path / "cache"))
    assert list(results) == list(cls.values), "one result per declared value name, in the declared order"
    for value_name, result in results.items():
        declared: ValueSpec = cls.values[value_name]
        assert (result.level, result.higher_is_better) == (declared.level, declared.higher_is_better)
        json.dumps(asdict(result))  # lands in result.json
        if result.status == "skipped":
            assert result.value is None and result.reason, f"{value_name}: skipped without a reason"
            continue
        assert result.status == "ok" and math.isfinite(result.value) and result.n == len(predictions)
        if declared.level == "sample":
            assert result.std is not None and len(result.per_sample) == len(predictions)
        else:
            assert result.std is None and result.per_sample is None
    return results


def test_the_tiny_settings_name_registered_metrics():
    assert {"bartscore", "bleurt", "gptscore"} <= set(registered_metrics())


@pytest.mark.parametrize("name", registered_metrics())
def test_metric_contract_on_tiny_models(name, tiny, pairs, tmp_path):
    config = merge(plugin_layer(metrics.get(name), "cpu"), tiny.get(name, {}))
    results = check_contract(name, config, pairs, tmp_path)
    if name in tiny:  # a tiny model or the scripted judge is there: the metric must really score
        assert all(result.status == "ok" for result in results.values()), results


@pytest.mark.slow
@pytest.mark.parametrize("name", registered_metrics())
def test_metric_contract_with_the_cpu_profile(name, pairs, tmp_path):
    check_contract(name, plugin_layer(metrics.get(name), "cpu"), pairs, tmp_path)


def test_bleu_and_distinct_are_corpus_level_and_rouge_and_length_are_per_sample():
    lexical = metrics.get("lexical")
    levels = {name: spec.level for name, spec in lexical.values.items()}
    assert {levels[name] for name in ("bleu1", "bleu4", "distinct1", "distinct2")} == {"corpus"}
    assert {level for name, level in levels.items() if name.startswith("rouge")} == {"sample"}
    assert lexical.values["mean_length"] == ValueSpec("sample", higher_is_better=None)
    skipped = lexical.skipped("the tokenizer is missing", {})  # what the runner records for an unavailable metric
    assert skipped["bleu4"].level == "corpus" and skipped["rouge1_f"].level == "sample"
    assert skipped["mean_length"].higher_is_better is None and skipped["bleu4"].status == "skipped"


def test_a_result_takes_its_level_and_direction_from_the_declaration_only():
    declared = ValueSpec("corpus", higher_is_better=False)
    result = MetricResult(declared=declared, value=1.0, n=3, config={})
    assert (result.level, result.higher_is_better, result.std, result.per_sample) == ("corpus", False, None, None)
    with pytest.raises(TypeError):
        MetricResult(declared=declared, value=1.0, n=3, config={}, level="sample")
    with pytest.raises(TypeError):
        MetricResult(1.0, None, 3, None, {})  # keyword-only
    with pytest.raises(ValueError, match="sample' or 'corpus"):
        ValueSpec("system")
