"""PEPLER on the real SmolLM2-135M-Instruct backbone (the cpu profile's): slow tests and the decoding perf ratio."""

from __future__ import annotations

import re
import time

import pytest
import torch
from xrec_bench.config import plugin_layer
from xrec_bench.methods.pepler import Pepler
from xrec_bench.methods.pepler.generation import greedy_generate
from xrec_bench.methods.pepler.model import PromptedLM, load_backbone
from xrec_bench.plugin import RunContext

from tests.pepler.conftest import sliced


@pytest.fixture(scope="module")
def smollm2():
    torch.manual_seed(0)
    backbone, tokenizer = load_backbone("smollm2-135m-instruct")
    return PromptedLM(backbone, num_users=8, num_items=8).eval(), tokenizer


@pytest.mark.slow
def test_kv_cache_matches_full_recomputation_on_smollm2(smollm2):
    model, tokenizer = smollm2
    users, items = torch.arange(4), torch.arange(4).flip(0)
    args = (model, users, items, tokenizer.bos_token_id, tokenizer.eos_token_id, 20)
    assert torch.equal(greedy_generate(*args, use_cache=True), greedy_generate(*args, use_cache=False))


@pytest.mark.slow
def test_a_short_cpu_profile_fit_on_yelp_mini_learns_and_writes_sentences(yelp_mini):
    config = plugin_layer(Pepler, "cpu")
    config.update(length="official", training={"batch_size": 8, "micro_batch_size": 4}, stage1={"max_epochs": 1, "lr": 1e-3},
                  stage2={"max_epochs": 1, "lr": 1e-4})
    splits = sliced(yelp_mini, 48, 16, 4)
    method = Pepler(config)
    report = method.fit(splits, RunContext(seed=0))
    assert report["final_valid_loss"] < report["initial_valid_loss"]
    texts = method.explain([r.without_reference() for r in splits.test], RunContext())
    print(report["history"], texts, sep="\n")
    for text in texts:
        assert len(re.findall(r"[A-Za-z]+", text)) >= 5, text


@pytest.mark.perf
def test_kv_cache_decoding_is_at_least_3x_faster_than_full_recomputation(smollm2, benchmark):
    model, tokenizer = smollm2
    users, items = torch.arange(8), torch.arange(8)
    steps = 48
    # eos_id -1 never matches: both paths run all the steps, so the ratio is per generated token.
    def decode(use_cache):
        return greedy_generate(model, users, items, tokenizer.bos_token_id, -1, steps, use_cache=use_cache)

    started = time.perf_counter()
    full = decode(False)
    full_seconds = time.perf_counter() - started
    cached = benchmark.pedantic(decode, args=(True,), rounds=1, iterations=1, warmup_rounds=0)
    started = time.perf_counter()
    decode(True)
    cached_seconds = time.perf_counter() - started
    assert torch.equal(cached, full)
    tokens = users.numel() * steps
    speedup = full_seconds / cached_seconds
    benchmark.extra_info.update(full_tokens_per_s=tokens / full_seconds, cached_tokens_per_s=tokens / cached_seconds,
                                speedup=speedup)
    print(f"greedy {steps} tokens x {users.numel()}: KV cache {tokens / cached_seconds:.0f} tok/s, "
          f"full recomputation {tokens / full_seconds:.0f} tok/s, {speedup:.1f}x")
    assert speedup >= 3
