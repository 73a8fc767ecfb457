"""The method contract, over every registered method: on 8 records of a mini split it fits, explains one
string per record, saves, loads into a fresh instance and explains the same.

The default run uses tiny models built from configs (``TINY``); a method without an entry runs with its
cpu profile, so a newly registered method is covered as it is. ``-m slow`` runs the real cpu profiles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from xrec_bench.config import check_known, merge, plugin_layer
from xrec_bench.plugin import Method, RunContext
from xrec_bench.records import DatasetSplits
from xrec_bench.registry import methods

WORD_LEVEL = {"length": "official", "max_epochs": 2, "training": {"batch_size": 8}}


def tiny_overrides(llama_dir: Path) -> dict[str, dict[str, Any]]:
    """Per method, what turns its cpu profile into a model that fits 8 records in a second or two."""
    return {
        "xrec": {"backbone": str(llama_dir),
                 "lightgcn": {"embedding_dim": 16, "batch_size": 32, "max_epochs": 2},
                 "training": {"batch_size": 4, "lr": 1e-2, "log_every": 1, "valid_records": 4,
                              "max_target_tokens": 24},
                 "generation": {"max_new_tokens": 6, "batch_size": 4}},
        "pepler": {"backbone": str(llama_dir), "length": "official", "training": {"batch_size": 8},
                   "generation": {"batch_size": 4},
                   "stage1": {"max_epochs": 1, "lr": 1e-2}, "stage2": {"max_epochs": 1, "lr": 1e-3}},
        "att2seq": {**WORD_LEVEL, "emsize": 16, "nhid": 32},
        "nrt": {**WORD_LEVEL, "emsize": 16, "nhid": 32},
        "peter": {**WORD_LEVEL, "emsize": 16, "nhid": 32},
    }


def registered_methods() -> list[str]:
    """Every registered method but the test doubles other test modules register for the runner's tests."""
    return [entry.name for entry in methods.entries() if not entry.obj.__module__.startswith("tests.")]


def runner_order(method: Method, records):
    """The order the runner explains in: sorted by (the method's batch key, sample id)."""
    return sorted(records, key=lambda r: (method.batch_key(r), r.sample_id))


def explain_all(method: Method, splits: DatasetSplits, ctx: RunContext) -> dict[str, str]:
    records = splits.released if type(method).test_split == "released" else splits.test
    assert records, f"the mini slice has no {type(method).test_split} records"
    queries = runner_order(method, [r.without_reference() for r in records])
    outputs = method.explain(queries, ctx)
    assert len(outputs) == len(queries), "explain must return one explanation per record"
    assert all(isinstance(text, str) for text in outputs), "each explanation is a str (or an Explanation)"
    return {record.sample_id: str(text) for record, text in zip(queries, outputs)}


def check_contract(name: str, config: dict[str, Any], splits: DatasetSplits, tmp_path: Path) -> None:
    cls = methods.get(name)
    ctx = RunContext(seed=0, scratch_dir=tmp_path / "scratch", cache_dir=tmp_path / "cache")
    ctx.scratch_dir.mkdir()
    method = cls(config)
    report = method.fit(splits, ctx)
    json.dumps(report)  # the runner writes it to training.json and result.json
    first = explain_all(method, splits, ctx)
    fresh = cls(config)
    if cls.needs_training:
        model_dir = tmp_path / "model"
        model_dir.mkdir()
        method.save(model_dir)
        fresh.load(model_dir, ctx)  # a resumed run or another shard: no fit
    else:
        fresh.fit(splits, ctx)  # the runner fits a method that does not train on every run
    assert explain_all(fresh, splits, ctx) == first


@pytest.fixture(scope="module")
def tiny(tiny_backbone_dir) -> dict[str, dict[str, Any]]:
    return tiny_overrides(tiny_backbone_dir)


def test_the_tiny_settings_name_registered_methods_and_their_known_settings(tmp_path):
    overrides = tiny_overrides(tmp_path)
    assert set(overrides) <= set(registered_methods())
    for name, settings in overrides.items():
        check_known(plugin_layer(methods.get(name), "cpu"), settings)  # a renamed setting fails here


@pytest.mark.parametrize("name", registered_methods())
def test_method_contract_on_tiny_models(name, tiny, mini_slice, tmp_path):
    cls = methods.get(name)
    check_contract(name, merge(plugin_layer(cls, "cpu"), tiny.get(name, {})), mini_slice, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", registered_methods())
def test_method_contract_with_the_cpu_profile(name, mini_slice, tmp_path):
    check_contract(name, plugin_layer(methods.get(name), "cpu"), mini_slice, tmp_path)
