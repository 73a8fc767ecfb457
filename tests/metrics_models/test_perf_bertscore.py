"""Throughput of BERTScore (cpu profile) on the 3,000 released Google pairs, against what this CPU's matrix
units do in the same process.

Batched scoring and a per-pair loop are both compute-bound in fp32 (1.44x apart), so their ratio says
little. What the test pins is the achieved FLOP/s as a share of an fp32 and a bf16 matmul probe, and
what ``metrics.bertscore.precision=bf16`` buys and costs: its speed against fp32 and the largest
difference of a pair's F1 from fp32's.
"""

from __future__ import annotations

import time

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from xrec_bench.config import plugin_layer
from xrec_bench.data.fetch import ensure_file
from xrec_bench.data.safe_pickle import load_string_list
from xrec_bench.hardware import cpu_has_native_bf16
from xrec_bench.metrics.bertscore import BERTScore
from xrec_bench.plugin import RunContext
from xrec_bench.stages import peak_rss_mb


def matmul_tflops(dtype: torch.dtype, size: int = 1024, repeat: int = 10) -> float:
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    started = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return 2 * size ** 3 * repeat / (time.perf_counter() - started) / 1e12


@pytest.mark.perf
def test_bertscore_throughput_against_matmul_probes_and_bf16(benchmark, mirror):
    """fp32 and bf16 scoring of the 3,000 Google pairs, each against its own matmul probe. On a CPU without
    bf16 hardware only fp32 is timed: torch emulates bf16 products there about 100x slower than fp32, so
    the bf16 pass would take hours and time nothing a run on that CPU would choose."""
    predictions = load_string_list(ensure_file("google", "tst_pred.pkl"))
    references = load_string_list(ensure_file("google", "tst_ref.pkl"))
    ctx = RunContext()
    native_bf16 = cpu_has_native_bf16()
    precisions = ("fp32", "bf16") if native_bf16 else ("fp32",)
    metrics = {precision: BERTScore({**plugin_layer(BERTScore, "cpu"), "precision": precision})
               for precision in precisions}
    for metric in metrics.values():
        metric.score(predictions[:4], references[:4], ctx)  # load the model once, as a run does
    with FlopCounterMode(display=False) as counter:  # the same products in either precision
        metrics[precisions[-1]].score(predictions, references, ctx)
    flops = counter.get_total_flops()

    seconds, results = {}, {}
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    probes = {k: matmul_tflops(dtypes[k]) for k in precisions}
    for precision, metric in metrics.items():
        started = time.perf_counter()
        if precision == "fp32":
            results[precision] = benchmark.pedantic(metric.score, args=(predictions, references, ctx),
                                                    rounds=1, iterations=1)
        else:
            results[precision] = metric.score(predictions, references, ctx)
        seconds[precision] = time.perf_counter() - started
    probes = {k: max(v, matmul_tflops(dtypes[k])) for k, v in probes.items()}  # the better of a probe before
    # and after: load changes under us
    achieved = {k: flops / seconds[k] / 1e12 for k in seconds}
    n = len(predictions)
    benchmark.extra_info.update({
        "pairs": n, "gflop": round(flops / 1e9, 1),
        "pairs_per_s": {k: round(n / v, 1) for k, v in seconds.items()},
        "achieved_tflops": {k: round(v, 4) for k, v in achieved.items()},
        "probe_tflops": {k: round(v, 4) for k, v in probes.items()},
        "share_of_own_probe": {k: round(achieved[k] / probes[k], 3) for k in achieved},
        "peak_rss_mb": round(peak_rss_mb(), 1)})
    if native_bf16:
        f1 = {k: results[k]["bertscore_f1"].per_sample for k in results}
        benchmark.extra_info.update({
            "bf16_speedup_vs_fp32": round(seconds["fp32"] / seconds["bf16"], 2),
            "bf16_max_abs_diff_f1": max(abs(a - b) for a, b in zip(f1["bf16"], f1["fp32"])),
            "bf16_mean_f1_diff": results["bf16"]["bertscore_f1"].value - results["fp32"]["bertscore_f1"].value})
    else:
        benchmark.extra_info["bf16"] = "not timed: this CPU has no bf16 hardware (AMX or AVX-512 BF16)"
    print(benchmark.extra_info)
    assert results["fp32"]["bertscore_f1"].config["precision"] == "fp32"
    # Small models, short sentences: a quarter of the fp32 probe is what batching should reach.
    assert achieved["fp32"] / probes["fp32"] >= 0.25
    if native_bf16:
        assert results["bf16"]["bertscore_f1"].config["precision"] == "bf16"
        assert 0 < benchmark.extra_info["bf16_max_abs_diff_f1"] < 0.05
        assert seconds["bf16"] < seconds["fp32"]
