"""Whether this machine computes a cell at its intended speed: a cell that pins bf16 on the CPU needs
bf16 hardware.

A cell whose resolved config asks for bf16 (``method.precision`` bf16-autocast or bf16-weights, or a
metric's ``precision: bf16``) and runs on the CPU multiplies its matrices in bf16. On a CPU without
bf16 hardware (no AMX, no AVX-512 BF16; ``xrec_bench.hardware``) torch emulates those products: a
1024 x 1024 x 1024 product ran at 0.001 TFLOP/s in bf16 against 0.152 TFLOP/s in fp32 on a 2-core
AVX2-only AMD EPYC (2026-12-07, torch 2.13; about 150x), so a PEPLER cell of under an hour would
run for days. The committed grids pin bf16 for some methods, so that cells computed on different
machines are the same runs. A sweep on a CPU without bf16 hardware therefore holds back those of its
cells it would run, names them and says why, and runs the others; ``XREC_BENCH_EMULATED_BF16=run``
in the environment runs them anyway. Under ``--executor slurm`` nothing is held back: its jobs run on
compute nodes this process cannot see.
"""

from __future__ import annotations

import os
from typing import Any

from xrec_bench.errors import UserError
from xrec_bench.hardware import cpu_description, cpu_has_native_bf16

RUN_EMULATED_VARIABLE = "XREC_BENCH_EMULATED_BF16"
RUN_EMULATED_VALUE = "run"


def bf16_settings(config: dict[str, Any]) -> list[str]:
    """The settings of a resolved run config that ask for bf16 arithmetic, as ``key=value``: the method's
    precision, and the precision of each metric the run scores (``metrics.names``)."""
    found = []
    precision = str(config.get("method", {}).get("precision", ""))
    if precision.startswith("bf16"):
        found.append(f"method.precision={precision}")
    metrics = config.get("metrics", {})
    for family in metrics.get("names", []):
        settings = metrics.get(family)
        if isinstance(settings, dict) and str(settings.get("precision", "")).startswith("bf16"):
            found.append(f"metrics.{family}.precision={settings['precision']}")
    return found


def run_emulated_anyway() -> bool:
    """Whether ``XREC_BENCH_EMULATED_BF16=run`` asks to run such cells here anyway (any other value is refused)."""
    value = os.environ.get(RUN_EMULATED_VARIABLE)
    if value not in (None, "", RUN_EMULATED_VALUE):
        raise UserError(f"{RUN_EMULATED_VARIABLE} must be {RUN_EMULATED_VALUE!r} (run bf16 cells on a CPU "
                        f"without bf16 hardware anyway) or unset, not {value!r}.")
    return value == RUN_EMULATED_VALUE


def emulated_bf16(config: dict[str, Any]) -> list[str]:
    """The bf16 settings of ``config`` that this machine would emulate: none on a GPU, on a CPU with bf16
    hardware, or where ``XREC_BENCH_EMULATED_BF16=run`` asks to run them anyway."""
    if not str(config.get("runtime", {}).get("device", "cpu")).startswith("cpu"):
        return []
    if cpu_has_native_bf16() or run_emulated_anyway():
        return []
    return bf16_settings(config)


def held_back_reason(config: dict[str, Any]) -> str | None:
    """Why a sweep on this machine holds the cell back, in words; None where it runs here."""
    settings = emulated_bf16(config)
    if not settings:
        return None
    cpu = cpu_description()["cpu_model"]
    lacks = (f"{cpu} has no bf16 hardware (AMX or AVX-512 BF16)" if cpu else
             "this CPU could not be shown to have bf16 hardware (AMX or AVX-512 BF16; /proc/cpuinfo is unreadable)")
    return (f"held back: it computes in bf16 ({', '.join(settings)}) and {lacks}, where torch emulates bf16 "
            f"products over 100x slower than fp32; run it on such a CPU or a GPU, or set "
            f"{RUN_EMULATED_VARIABLE}={RUN_EMULATED_VALUE} to run it here anyway")
