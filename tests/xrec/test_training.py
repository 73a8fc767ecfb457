"""Training: frozen backbone, loss on the explanation only, batched == batch size 1, loss falls."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch
from xrec_bench.methods.xrec import XRec, adapter, graph, prompting, training
from xrec_bench.methods.xrec.injection import CollaborativeInjector

from tests.xrec.synthetic import make_graph, make_records

CFG = {**XRec.defaults["training"], "lr": 3e-2, "epochs": 1, "batch_size": 4, "grad_accum": 1, "log_every": 1,
       "valid_records": 4, "max_target_tokens": 48}


def parts(tiny, kind="moe"):
    emb = graph.random_embeddings(make_graph(), 64, 0)
    h = tiny.hidden_size
    adapters = training.CollaborativeAdapters(adapter.build_adapter(kind, 64, h, 8, 0.0),
                                              adapter.build_adapter(kind, 64, h, 8, 0.0), emb.user, emb.item)
    injector = CollaborativeInjector(tiny.model, tiny.user_token_id, tiny.item_token_id)
    builder = prompting.PromptBuilder("chat-template", "business", True, tiny.tokenizer)
    return adapters, injector, builder


def test_labels_cover_the_explanation_only(tiny):
    _, _, builder = parts(tiny)
    records = make_records(2)
    encoded = training.encode(records, builder, tiny.explain_token_id, 64)
    batch = training.collate(encoded, tiny.tokenizer.pad_token_id)
    for row, (record, e) in enumerate(zip(records, encoded)):
        labelled = batch["labels"][row][batch["labels"][row] != training.IGNORE].tolist()
        assert tiny.tokenizer.decode(labelled).startswith(record.explanation)
        prompt_ids = batch["input_ids"][row][:e.target_start].tolist()
        assert tiny.explain_token_id in prompt_ids  # <EXPLAIN_POS> and everything before it is masked
        assert (batch["labels"][row][:e.target_start] == training.IGNORE).all()


def test_batched_loss_equals_batch_size_one(tiny):
    adapters, injector, builder = parts(tiny)
    adapters.eval()
    records = make_records(5, seed=3)
    encoded = training.encode(records, builder, tiny.explain_token_id, 48)
    pad = tiny.tokenizer.pad_token_id
    with torch.no_grad():
        batched = training.batch_loss(tiny, adapters, injector, records, training.collate(encoded, pad), False)
        single = torch.cat([training.batch_loss(tiny, adapters, injector, records, training.collate([e], pad), False)
                            for e in encoded])
    assert len({len(e.ids) for e in encoded}) > 1  # padding really happens
    torch.testing.assert_close(batched, single, atol=1e-4, rtol=1e-4)


def test_backbone_frozen_and_loss_falls(tiny):
    adapters, injector, builder = parts(tiny)
    assert not any(p.requires_grad for p in tiny.model.parameters())
    backbone_before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    adapter_before = {k: v.clone() for k, v in adapters.state_dict().items()}
    records = make_records(4, seed=5)
    report = training.train(tiny, adapters, injector, builder, records, records, {**CFG, "epochs": 8}, 0, "cpu")
    losses = [h["train_loss"] for h in report["history"] if h["train_loss"] is not None]
    assert report["history"][-1]["valid_loss"] < report["history"][0]["valid_loss"]
    # A random tiny model predicts near-uniformly (loss ~ ln 49k); the adapters can still move it.
    assert losses[-1] < losses[0] - 0.03, losses
    assert sum(b < a for a, b in pairwise(losses)) >= len(losses) - 2, losses
    assert report["trainable_parameters"] == sum(p.numel() for p in adapters.parameters())
    for key, value in tiny.model.state_dict().items():
        assert torch.equal(value, backbone_before[key]), f"backbone weight {key} changed"
    assert any(not torch.equal(v, adapter_before[k]) for k, v in adapters.state_dict().items())


def test_warm_up_ramps_the_learning_rate_linearly_then_holds(tiny):
    adapters, injector, builder = parts(tiny)
    records = make_records(12, seed=7)
    cfg = {**CFG, "batch_size": 2, "warmup_steps": 4}
    report = training.train(tiny, adapters, injector, builder, records, records[:4], cfg, 0, "cpu")
    lrs = [h["lr"] for h in report["history"] if h["train_loss"] is not None]
    assert lrs == pytest.approx([3e-2 * f for f in (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)])
    first = report["history"][0]
    assert first["step"] == 0 and first["train_eval_loss"] > 0 and first["valid_loss"] > 0
    assert {"train_eval_loss", "valid_loss"} <= set(report["history"][-1])
