"""Tokens/s of PETER's greedy decoding: per-layer key/value cache vs the official full re-computation."""

import time

import pytest
import torch
from xrec_bench.methods.peter.model import PeterNetwork
from xrec_bench.methods.wordlevel.decoding import greedy_full, greedy_incremental
from xrec_bench.methods.wordlevel.sequences import words_for
from xrec_bench.methods.wordlevel.tokenizer import EOS_ID


@pytest.mark.perf
def test_peter_incremental_decoding_is_at_least_3x_faster(benchmark):
    torch.manual_seed(0)
    # The official architecture with a yelp-mini-sized vocabulary; <eos> suppressed so that every row
    # runs the full xrec cap of 64 words in both decoders.
    network = PeterNetwork(num_users=3000, num_items=3000, num_words=6927).eval()
    with torch.no_grad():
        network.hidden2token.bias[EOS_ID] = -100.0
    users, items = torch.arange(32), torch.arange(32) + 100
    words = words_for("xrec")

    started = time.perf_counter()
    full = greedy_full(network, users, items, words)
    full_s = time.perf_counter() - started

    started = time.perf_counter()
    incremental = benchmark.pedantic(greedy_incremental, args=(network, users, items, words), rounds=1,
                                     iterations=1)
    incremental_s = time.perf_counter() - started

    tokens = sum(len(row) for row in full)
    assert incremental == full and tokens == 32 * words
    speedup = full_s / incremental_s
    benchmark.extra_info.update({"tokens": tokens, "incremental_tokens_per_s": round(tokens / incremental_s, 1),
                                 "full_tokens_per_s": round(tokens / full_s, 1), "speedup": round(speedup, 2),
                                 "threads": torch.get_num_threads()})
    print(benchmark.extra_info)
    assert speedup >= 3.0
