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

from tests.conftest import needs_bf16_hardware
from tests.pepler.conftest import backward_with_a_context_per_slice, sliced


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
    config.update(length="official", training={"batch_size": 8, "micro_batch_size": 4, "micro_batch_positions": None}, stage1={"max_epochs": 1, "lr": 1e-3},
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


@pytest.mark.perf
@needs_bf16_hardware
def test_a_cpu_profile_training_batch_is_faster_than_the_previous_way(yelp_mini, benchmark):
    """One 32-record yelp-mini batch (forward and backward, stage 2, bf16 autocast) as the cpu profile
    computes it now (eager attention, one autocast context per batch, the profile's slices) against
    the previous way (torch's sdpa kernel, one context per slice of 4 rows), interleaved in one process."""
    from xrec_bench.methods.pepler.encoding import batch_order, iterate_batches
    from xrec_bench.methods.pepler.training import EncodedSplit, StageTrainer, encode_split
    from xrec_bench.methods.wordlevel.ids import build_id_maps

    torch.manual_seed(0)
    backbone, tokenizer = load_backbone("smollm2-135m-instruct")
    users, items = build_id_maps(yelp_mini)
    model = PromptedLM(backbone, users.num_rows, items.num_rows)
    model.set_stage(2, True)
    train = encode_split(yelp_mini.train, tokenizer, users, items, 96)
    batches = batch_order(train.lengths, 32, torch.Generator().manual_seed(0), True)
    median = sorted(batches, key=lambda rows: max(train.lengths[r] for r in rows))[len(batches) // 2]
    batch = next(iterate_batches(train.users, train.items, train.sequences, [median], tokenizer.pad_token_id))

    config = {"training": plugin_layer(Pepler, "cpu")["training"], "precision": "bf16-autocast"}
    trainer = StageTrainer(model, tokenizer, EncodedSplit([], [], []), EncodedSplit([], [], []), config, RunContext())

    def now():
        backbone.set_attn_implementation("eager")
        trainer._nll(batch, backward=True)

    def before():
        backbone.set_attn_implementation("sdpa")
        backward_with_a_context_per_slice(model, *batch, rows=4)

    seconds = {"now": [], "before": []}
    for _ in range(3):  # interleaved, so that a neighbour's load hits both ways alike
        for way, step in (("before", before), ("now", now)):
            model.zero_grad(set_to_none=True)
            started = time.perf_counter()
            step()
            seconds[way].append(time.perf_counter() - started)
    benchmark.pedantic(now, rounds=1, iterations=1)
    speedup = min(seconds["before"]) / min(seconds["now"])
    benchmark.extra_info.update(before_s=min(seconds["before"]), now_s=min(seconds["now"]), speedup=round(speedup, 2),
                                tokens=int(batch[3].sum()), threads=torch.get_num_threads())
    print(benchmark.extra_info)
    assert speedup >= 1.15, f"the cpu profile's training batch is only {speedup:.2f}x the previous way's speed"
