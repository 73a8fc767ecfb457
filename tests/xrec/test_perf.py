"""Speed ratios measured in one process (run with ``pytest -m perf tests/xrec/test_perf.py -s``).

Absolute timings on a shared machine are noise; the ratio of two variants measured back to back is
what these tests pin. Figures land in the benchmark's ``extra_info`` and are printed.
"""

from __future__ import annotations

import time

import pytest
import torch

from tests.conftest import needs_bf16_hardware

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
    from xrec_bench.data import load_dataset

    return load_dataset("yelp-mini")


@pytest.fixture(scope="module")
def smollm2():
    from xrec_bench.methods.xrec.backbone import load_backbone

    return load_backbone("smollm2-135m-instruct")


def xrec_parts(backbone, splits):
    from xrec_bench.methods.xrec import adapter, graph, prompting, training
    from xrec_bench.methods.xrec.injection import CollaborativeInjector

    emb = graph.random_embeddings(splits.graph, 64, 0)
    adapters = training.CollaborativeAdapters(adapter.MoEAdapter(64, backbone.hidden_size),
                                              adapter.MoEAdapter(64, backbone.hidden_size), emb.user, emb.item)
    injector = CollaborativeInjector(backbone.model, backbone.user_token_id, backbone.item_token_id)
    builder = prompting.PromptBuilder("chat-template", "business", True, backbone.tokenizer)
    return adapters, injector, builder


@pytest.fixture(scope="module")
def smollm2_cpu_profile():
    """The backbone as the cpu profile loads it (bf16 weights); each phase sets its own attention."""
    from xrec_bench.methods.xrec import XRec
    from xrec_bench.methods.xrec.backbone import load_backbone

    precision = XRec.profiles["cpu"]["precision"]
    return load_backbone("smollm2-135m-instruct", dtype="bfloat16" if precision == "bf16-weights" else "float32")


def cpu_precision() -> str:
    from xrec_bench.methods.xrec import XRec

    return XRec.profiles["cpu"]["precision"]


def cpu_profile(phase: str) -> dict:
    from xrec_bench.methods.xrec import XRec

    return {**XRec.defaults[phase], **XRec.profiles["cpu"][phase]}


def test_batched_kv_cache_generation_vs_one_at_a_time(benchmark, smollm2_cpu_profile, yelp):
    """Same backbone (the cpu profile's), same greedy decoding; what differs is how records are batched
    and how each step runs. The slower way is transformers' generate one record at a time (what a
    per-record loop did); each change of the decoding loop is measured on its own, as a ratio to it."""
    from xrec_bench.methods.xrec import generation
    from xrec_bench.methods.xrec.backbone import use_attention

    from tests.xrec.reference_generate import transformers_generate

    backbone = smollm2_cpu_profile
    adapters, injector, builder = xrec_parts(backbone, yelp)
    records = yelp.test[:32]
    cfg = {**cpu_profile("generation"), "max_new_tokens": 32, "repetition_penalty": 1.0}
    use_attention(backbone, cfg["attention"])
    autocast = cpu_precision() != "fp32"
    stop = backbone.end_of_turn_ids(True)
    prompts = [builder.prompt_ids(builder.inference_prompt(r)) for r in records]
    order = sorted(range(len(records)), key=lambda i: len(prompts[i]))  # as generation.explain batches
    with torch.no_grad():
        users, items = adapters.eval()(torch.tensor([r.uid for r in records]), torch.tensor([r.iid for r in records]))

    def decode(batch_size, **loop):
        out = {}
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            args = ([prompts[i] for i in batch], users[batch], items[batch], cfg, stop)
            if loop.get("reference"):
                rows = transformers_generate(backbone, injector, *args, autocast=autocast)
            else:
                rows = generation.generate_ids(backbone, injector, *args, [0] * len(batch), autocast, **loop)
            out.update(zip(batch, rows))
        return [out[i] for i in range(len(records))]

    variants = {  # name: (batch size, loop settings)
        "generate_b1": (1, {"reference": True}),
        "generate_b16": (16, {"reference": True}),
        "loop_b16_dynamic_cache": (16, {"static_cache": False, "drop_finished": False}),
        "loop_b16_static_cache": (16, {"drop_finished": False}),
        "loop_b16_static_drop": (16, {}),
        "loop_b32_static_drop": (32, {}),
    }
    decode(2, reference=True), decode(2)  # warm both paths
    produced, seconds = {}, {}
    for name, (size, loop) in variants.items():
        started = time.perf_counter()
        if name == "loop_b32_static_drop":
            produced[name] = benchmark.pedantic(decode, args=(size,), kwargs=loop, rounds=1, iterations=1)
        else:
            produced[name] = decode(size, **loop)
        seconds[name] = time.perf_counter() - started
    injector.remove()
    tokens = {name: sum(len(row) for row in rows) for name, rows in produced.items()}
    rates = {name: tokens[name] / seconds[name] for name in variants}
    ratios = {name: rates[name] / rates["generate_b1"] for name in variants}
    single = produced["generate_b1"]
    identical = {name: sum(a == b for a, b in zip(rows, single)) for name, rows in produced.items()}
    benchmark.extra_info.update(tokens_per_s={k: round(v, 1) for k, v in rates.items()},
                                ratio_vs_generate_b1={k: round(v, 2) for k, v in ratios.items()},
                                identical_to_generate_b1=identical, records=len(records))
    print("\ngeneration tokens/s (ratio to generate at batch 1; outputs identical to it):")
    for name in variants:
        print(f"  {name:24s} {rates[name]:7.1f}  {ratios[name]:5.2f}x  {identical[name]}/{len(records)}")
    texts = [backbone.tokenizer.decode(row, skip_special_tokens=True) for row in produced["loop_b32_static_drop"]]
    assert all(len(text.split()) >= 5 for text in texts)
    assert ratios["loop_b32_static_drop"] >= 8


def test_lightgcn_sparse_adjacency_vs_edge_index(benchmark, yelp):
    import numpy as np
    from torch_geometric.nn import LightGCN
    from xrec_bench.methods.xrec.graph import build_model, normalized_adjacency

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


def official_style_loss(backbone, adapters, injector, records, batch) -> torch.Tensor:
    """XRec's own training step: the causal LM's loss from ``labels``, logits over every position."""
    index = batch["index"].tolist()
    user_vectors, item_vectors = adapters(torch.tensor([records[i].uid for i in index]),
                                          torch.tensor([records[i].iid for i in index]))
    with injector.inject(user_vectors, item_vectors):
        return backbone.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                              labels=batch["labels"]).loss


@needs_bf16_hardware
def test_batched_bf16_training_vs_batch_one_fp32(benchmark, smollm2, smollm2_cpu_profile, yelp):
    """The cpu profile's training step (bf16 backbone weights, autocast, length-grouped batches of 8,
    LM head on target positions only) against the official one (fp32, batch 1, full-sequence logits).
    Our own loss at fp32 batch 1 is measured as well, so the note can say where the speed comes from."""
    from torch.utils.flop_counter import FlopCounterMode
    from xrec_bench.methods.xrec import training

    records = yelp.train[:16]
    pad = smollm2.tokenizer.pad_token_id

    installed = []

    def steps(backbone, batch_size, bf16, loss_fn):
        for injector in installed:  # one armed set of hooks at a time
            injector.remove()
        adapters, injector, builder = xrec_parts(backbone, yelp)
        installed.append(injector)
        encoded = training.encode(records, builder, backbone.explain_token_id, 128)
        batches = training.length_grouped_batches(encoded, batch_size, 0)

        def go():
            for rows in batches:
                batch = training.collate([encoded[i] for i in rows], pad)
                loss_fn(backbone, adapters, injector, batch, bf16).mean().backward()
        return go

    def ours(backbone, adapters, injector, batch, bf16):
        return training.batch_loss(backbone, adapters, injector, records, batch, bf16)

    def official(backbone, adapters, injector, batch, bf16):
        return official_style_loss(backbone, adapters, injector, records, batch)

    from xrec_bench.methods.xrec.backbone import use_attention

    use_attention(smollm2_cpu_profile, cpu_profile("training")["attention"])
    fast = steps(smollm2_cpu_profile, 8, True, ours)
    with FlopCounterMode(display=False) as counter:  # also the warm-up of the batched bf16 variant
        fast()
    flops = counter.get_total_flops()
    benchmark.pedantic(fast, rounds=1, iterations=1)
    batched = timed(fast, warm_up=False)
    single_official = timed(steps(smollm2, 1, False, official), warm_up=False)  # warm after the first record
    single_ours = timed(steps(smollm2, 1, False, ours), warm_up=False)
    probe = matmul_tflops(torch.bfloat16)
    achieved = flops / batched / 1e12
    ratio, ratio_ours = single_official / batched, single_ours / batched
    n = len(records)
    benchmark.extra_info.update(batched_records_per_s=n / batched, official_records_per_s=n / single_official,
                                ours_batch1_fp32_records_per_s=n / single_ours, ratio=ratio,
                                ratio_vs_ours_batch1_fp32=ratio_ours, achieved_tflops=achieved,
                                bf16_matmul_probe_tflops=probe)
    print(f"\ntraining: bf16 batch 8 {n / batched:.2f} rec/s; official-style fp32 batch 1 {n / single_official:.2f}"
          f" rec/s, ratio {ratio:.1f}x; our loss at fp32 batch 1 {n / single_ours:.2f} rec/s, ratio {ratio_ours:.1f}x;"
          f" {achieved:.3f} TFLOP/s achieved vs bf16 matmul probe {probe:.3f} TFLOP/s")
    assert ratio >= 3
