"""Speed ratios measured in one process (run with ``pytest -m perf tests/xrec/test_perf.py -s``).

Absolute timings on a shared machine are noise; the ratio of two variants measured back to back is
what these tests pin. Figures land in the benchmark's ``extra_info`` and are printed.
"""

from __future__ import annotations

import time

import pytest
import torch

pytestmark = pytest.mark.perf


def timed(fn, repeat: int = 1, warm_up: bool = True) -> float:
    if warm_up:
        fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def matmul_tflops(dtype: torch.dtype, size: int = 2048) -> float:
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    return 2 * size ** 3 / timed(lambda: a @ b, 5) / 1e12


@pytest.fixture(scope="module")
def yelp():
    from benchmark.data import load_dataset

    return load_dataset("yelp-mini")


@pytest.fixture(scope="module")
def smollm2():
    from methods.xrec.backbone import load_backbone

    return load_backbone("smollm2-135m-instruct")


def xrec_parts(backbone, splits):
    from methods.xrec import adapter, graph, prompting, training
    from methods.xrec.injection import CollaborativeInjector

    emb = graph.random_embeddings(splits.graph, 64, 0)
    adapters = training.CollaborativeAdapters(adapter.MoEAdapter(64, backbone.hidden_size),
                                              adapter.MoEAdapter(64, backbone.hidden_size), emb.user, emb.item)
    injector = CollaborativeInjector(backbone.model, backbone.user_token_id, backbone.item_token_id)
    builder = prompting.PromptBuilder("chat-template", "business", True, backbone.tokenizer)
    return adapters, injector, builder


def test_batched_kv_cache_generation_vs_one_at_a_time(benchmark, smollm2, yelp):
    from methods.xrec import generation

    adapters, injector, builder = xrec_parts(smollm2, yelp)
    records = yelp.test[:16]
    cfg = {"max_new_tokens": 64, "do_sample": False, "temperature": 1.0, "top_p": 1.0}
    produced = {}

    def run(batch_size):
        def go():
            started = time.perf_counter()
            out = generation.explain(smollm2, injector, adapters, builder, records,
                                     {**cfg, "batch_size": batch_size}, 0, "cpu")
            produced[batch_size] = (out, time.perf_counter() - started)
        return go

    benchmark.pedantic(run(16), rounds=1, iterations=1)
    run(1)()
    tokens = sum(len(smollm2.tokenizer(t)["input_ids"]) for t in produced[16][0])
    batched, single = tokens / produced[16][1], tokens / produced[1][1]
    benchmark.extra_info.update(batched_tokens_per_s=batched, single_tokens_per_s=single, ratio=batched / single)
    print(f"\ngeneration: batch 16 {batched:.1f} tok/s, batch 1 {single:.1f} tok/s, ratio {batched / single:.1f}x")
    assert produced[16][0] == produced[1][0]  # same decoding, same text
    assert batched / single >= 5


def test_lightgcn_sparse_adjacency_vs_edge_index(benchmark, yelp):
    import numpy as np
    from torch_geometric.nn import LightGCN

    from methods.xrec.graph import build_model, normalized_adjacency

    g = yelp.graph
    n = g.num_users + g.num_items
    cfg = {"embedding_dim": 64, "num_layers": 4}
    edges = np.unique(np.asarray(g.train_edges), axis=0)
    u, i = torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1]) + g.num_users
    edge_index = torch.stack([torch.cat([u, i]), torch.cat([i, u])])
    adjacency = normalized_adjacency(g.num_users, g.num_items, edges)
    batch = torch.randint(len(edges), (8192,))

    def step(model, structure):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def go():
            out = model.get_embedding(structure)
            loss = -(out[u[batch]] * out[i[batch]]).sum(-1).sigmoid().log().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return go

    sparse_step = step(build_model(n, cfg), adjacency)
    edge_step = step(LightGCN(n, 64, 4, alpha=1.0), edge_index)  # normalises edge-wise, message passing
    benchmark.pedantic(sparse_step, rounds=3, iterations=1)
    sparse, edge = timed(sparse_step, 3), timed(edge_step, 3)
    benchmark.extra_info.update(sparse_s=sparse, edge_index_s=edge, ratio=edge / sparse)
    print(f"\nLightGCN step: sparse CSR {sparse:.3f} s, edge_index {edge:.3f} s, ratio {edge / sparse:.1f}x")
    assert edge / sparse >= 4


def test_batched_bf16_training_vs_batch_one_fp32(benchmark, smollm2, yelp):
    from torch.utils.flop_counter import FlopCounterMode

    from methods.xrec import training

    adapters, injector, builder = xrec_parts(smollm2, yelp)
    records = yelp.train[:8]
    encoded = training.encode(records, builder, smollm2.tokenizer, 128)
    pad = smollm2.tokenizer.pad_token_id

    def steps(batch_size, bf16):
        def go():
            for start in range(0, len(encoded), batch_size):
                batch = training.collate(encoded[start:start + batch_size], pad)
                training.batch_loss(smollm2, adapters, injector, records, batch, bf16).mean().backward()
        return go

    with FlopCounterMode(display=False) as counter:  # also the warm-up of the batched bf16 variant
        steps(8, True)()
    flops = counter.get_total_flops()
    benchmark.pedantic(steps(8, True), rounds=1, iterations=1)
    batched = timed(steps(8, True), warm_up=False)
    single = timed(steps(1, False), warm_up=False)  # 8 sequential batch-1 steps: warm after the first
    probe = matmul_tflops(torch.bfloat16)
    achieved = flops / batched / 1e12
    ratio = single / batched
    benchmark.extra_info.update(batched_records_per_s=8 / batched, single_records_per_s=8 / single, ratio=ratio,
                                achieved_tflops=achieved, bf16_matmul_probe_tflops=probe)
    print(f"\ntraining: bf16 batch 8 {8 / batched:.2f} rec/s, fp32 batch 1 {8 / single:.2f} rec/s, ratio {ratio:.1f}x;"
          f" {achieved:.3f} TFLOP/s achieved vs bf16 matmul probe {probe:.3f} TFLOP/s")
    assert ratio >= 3
