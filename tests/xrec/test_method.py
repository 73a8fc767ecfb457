"""The XRec plugin end to end on a tiny backbone directory: fit, save, load, explain; config switches."""

from __future__ import annotations

import pytest
from xrec_bench.config import resolve, run_id
from xrec_bench.errors import UserError
from xrec_bench.methods.xrec import XRec
from xrec_bench.plugin import RunContext
from xrec_bench.records import DatasetSplits

from tests.xrec.synthetic import make_graph, make_records, tiny_backbone


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tokenizer_dir):
    from transformers import AutoTokenizer

    directory = tmp_path_factory.mktemp("tiny-llama")
    tiny = tiny_backbone(tokenizer_dir)
    # Save the backbone as it was before the XRec tokens were added: the method adds them itself.
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tiny.model.resize_token_embeddings(len(tokenizer))
    tiny.model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def config(tiny_dir, **overrides):
    cfg = {**XRec.defaults, "backbone": tiny_dir, "prompt_format": "chat-template",
           "lightgcn": {**XRec.defaults["lightgcn"], "embedding_dim": 16, "batch_size": 32, "max_epochs": 2},
           "training": {**XRec.defaults["training"], "batch_size": 4, "lr": 1e-2, "log_every": 1, "valid_records": 4,
                        "max_target_tokens": 24},
           "generation": {**XRec.defaults["generation"], "max_new_tokens": 6, "batch_size": 3}}
    cfg.update(overrides)
    return cfg


def splits():
    records = make_records(12, seed=7)
    return DatasetSplits("yelp-tiny", records[:8], records[8:10], records[10:], make_graph(), {})


def test_fit_save_load_explain_round_trip(tiny_dir, tmp_path):
    ctx = RunContext(seed=0, cache_dir=tmp_path / "cache", scratch_dir=tmp_path)
    method = XRec(config(tiny_dir))
    data = splits()
    report = method.fit(data, ctx)
    assert report["stopped_epoch"] == 1
    assert {"train_loss", "valid_loss"} <= set(report["history"][-1])
    assert report["graph_tokenizer"]["cache_hit"] is False
    assert "recall@20" in report["graph_tokenizer"]["valid"] and "ndcg@20" in report["graph_tokenizer"]["test"]
    test = [r.without_reference() for r in data.test]
    first = method.explain(test, ctx)
    assert len(first) == 2 and all(isinstance(t, str) for t in first)
    method.save(tmp_path / "model")
    assert (tmp_path / "model" / "adapters.safetensors").is_file()
    loaded = XRec(config(tiny_dir))
    loaded.load(tmp_path / "model", ctx)  # no retraining: the graph embeddings come from the checkpoint
    assert loaded.explain(test, ctx) == first
    again = XRec(config(tiny_dir)).fit(data, ctx)
    assert again["graph_tokenizer"]["cache_hit"] is True


def test_injection_none_trains_nothing(tiny_dir, tmp_path):
    ctx = RunContext(seed=0, cache_dir=tmp_path / "cache", scratch_dir=tmp_path)
    report = XRec(config(tiny_dir, injection="none", graph_embeddings="random")).fit(splits(), ctx)
    assert report["trainable_parameters"] == 0 and report["history"][0]["valid_loss"] > 0


def test_ablation_switches_change_the_run_id_and_bad_values_are_user_errors():
    base = resolve(method="xrec", dataset="yelp-mini", metric_names=["usr"])
    ids = {run_id(base)}
    for switch in ["method.profiles_in_prompt=false", "method.injection=input-only", "method.injection=none",
                   "method.adapter=linear", "method.graph_embeddings=random"]:
        ids.add(run_id(resolve(method="xrec", dataset="yelp-mini", metric_names=["usr"], assignments=[switch])))
    assert len(ids) == 6
    assert base["method"]["backbone"] == "smollm2-135m-instruct"
    paper = resolve(method="xrec", dataset="yelp-mini", profile="paper", metric_names=["usr"])["method"]
    assert paper["backbone"] == "meta-llama/Llama-2-7b-chat-hf" and paper["prompt_format"] == "official"
    assert paper["training"]["batch_size"] == 1 and paper["training"]["lr"] == 1e-4
    assert paper["lightgcn"]["max_epochs"] == 300 and paper["lightgcn"]["patience"] == 10
    with pytest.raises(UserError, match=r"method\.injection must be one of all-layers, input-only, none"):
        resolve(method="xrec", dataset="yelp-mini", metric_names=["usr"], assignments=["method.injection=everywhere"])


def test_generation_batches_are_the_runners_batches_whatever_the_chunk(tiny_dir, tmp_path, monkeypatch):
    """XRec sorts by the same prompt length as its batch_key, so a chunk of the runner's whole batches is
    generated in exactly those batches: predictions cannot depend on runtime.explain_chunk."""
    from xrec_bench.methods.xrec import generation
    from xrec_bench.runner import explain_batches

    ctx = RunContext(seed=0, cache_dir=tmp_path / "cache", scratch_dir=tmp_path)
    method = XRec(config(tiny_dir))
    data = splits()
    method.fit(data, ctx)
    records = [r.without_reference() for r in make_records(10, seed=11)]
    batches = explain_batches(method, records)
    assert [len(b) for b in batches] == [3, 3, 3, 1] and method.explain_batch_size == 3
    seen = []
    real = generation.generate_ids
    monkeypatch.setattr(generation, "generate_ids", lambda backbone, injector, prompts, *rest: (
        seen.append(sorted(map(tuple, prompts))) or real(backbone, injector, prompts, *rest)))
    whole = method.explain([r for b in batches for r in b], ctx)
    in_whole = list(seen)
    seen.clear()
    one_by_one = [text for b in batches for text in method.explain(b, ctx)]
    assert seen == in_whole and len(seen) == 4
    assert one_by_one == whole


def test_the_paper_settings_fit_and_explain_on_a_tiny_backbone(tiny_dir, tmp_path):
    """Every official switch of the paper profile at once (backbone and sizes aside): official text with the
    tokenizer's BOS, seeded normal rows, loss from <EXPLAIN_POS>, sampling, no echo stripping."""
    from xrec_bench.config import plugin_layer

    paper = plugin_layer(XRec, "paper")
    switches = {key: paper[key] for key in ("prompt_format", "add_bos", "new_token_init")}
    base = config(tiny_dir, **switches)
    cfg = {**base, "training": {**base["training"], "loss_start": paper["training"]["loss_start"]},
           "generation": {**base["generation"], **{k: paper["generation"][k] for k in (
               "do_sample", "temperature", "top_k", "top_p", "suppress_xrec_tokens", "strip_instruction_echo")}}}
    ctx = RunContext(seed=0, cache_dir=tmp_path / "cache", scratch_dir=tmp_path)
    method = XRec(cfg)
    report = method.fit(splits(), ctx)
    assert report["prompt_format"] == "official" and report["history"][-1]["valid_loss"] > 0
    test = [r.without_reference() for r in splits().test]
    first, again = method.explain(test, ctx), method.explain(test, ctx)
    assert first == again  # seeded per record
    assert all(o.decoding["stop"] in ("eos", "max_new_tokens") and o.decoding["new_tokens"] >= 1 for o in first)


def test_a_cold_and_a_warm_graph_cache_train_the_same_adapters(tiny_dir, tmp_path):
    """Training LightGCN draws from torch's global generator; loading it from the cache does not. The
    adapters must not depend on which happened (the first run of a config once differed from its reruns)."""
    import torch

    ctx = RunContext(seed=0, cache_dir=tmp_path / "cache", scratch_dir=tmp_path)
    cold = XRec(config(tiny_dir))
    cold_report = cold.fit(splits(), ctx)
    warm = XRec(config(tiny_dir))
    warm_report = warm.fit(splits(), ctx)
    assert (cold_report["graph_tokenizer"]["cache_hit"], warm_report["graph_tokenizer"]["cache_hit"]) == (False, True)
    cold_weights, warm_weights = cold._state["adapters"].state_dict(), warm._state["adapters"].state_dict()
    assert all(torch.equal(cold_weights[name], warm_weights[name]) for name in cold_weights)
    assert cold_report["history"] == warm_report["history"]
