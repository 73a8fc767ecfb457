"""XRec with the real offline backbone (SmolLM2-135M-Instruct) on real yelp-mini records."""

from __future__ import annotations

import re

import pytest


@pytest.mark.slow
def test_training_lowers_the_loss_and_explanations_are_sentences(tmp_path):
    from xrec_bench.data import load_dataset
    from xrec_bench.methods.xrec import XRec
    from xrec_bench.plugin import RunContext
    from xrec_bench.records import DatasetSplits

    data = load_dataset("yelp-mini")
    # What `xrec-bench run --method xrec --dataset yelp-mini --limit 64 --set method.graph_embeddings=random`
    # trains on: 8 warm-up steps of the cpu profile (lr up to 3.2e-4).
    small = DatasetSplits(data.name, data.train[:64], data.valid[:64], data.test[:4], data.graph, data.card)
    cfg = {**XRec.defaults, **XRec.profiles["cpu"], "graph_embeddings": "random",
           "training": {**XRec.defaults["training"], **XRec.profiles["cpu"]["training"]},
           "generation": {**XRec.defaults["generation"], "batch_size": 4, "max_new_tokens": 64}}
    method = XRec(cfg)
    ctx = RunContext(seed=0, cache_dir=tmp_path, scratch_dir=tmp_path)
    report = method.fit(small, ctx)
    before, after = report["history"][0]["train_eval_loss"], report["history"][-1]["train_eval_loss"]
    assert after < before, report["history"]
    explanations = method.explain([r.without_reference() for r in small.test], ctx)
    for text in explanations:
        words = re.findall(r"[A-Za-z']+", text)
        assert len(words) >= 8, text
        assert "<" not in text and "[INST]" not in text, text
