"""What this machine's CPU can do that decides a profile's precision.

The cpu profiles compute in bfloat16 only where the CPU multiplies bf16 matrices in hardware (AMX
or AVX-512 BF16). Elsewhere torch emulates bf16 matrix products: on an AVX2-only AMD EPYC, a
512 x 576 x 1536 product ran at 1.3 GFLOP/s in bf16 against 157 GFLOP/s in fp32, so those profiles
compute in fp32 there. The resolved config (and so the run id) records the precision a run used.
Read from /proc/cpuinfo, without importing torch, because plugins read it when they are listed.

``cpu_description`` names the CPU and its bf16 instruction set in each result's environment: bf16
kernels (AMX tiles or AVX-512 BF16 dot products) round differently, so two machines of one run id can
give different predictions, and the cost table must say which machine a timing came from.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _native_bf16_flags() -> list[str]:
    """The entries of ``NATIVE_BF16_FLAGS`` that the CPU flags name (none where /proc/cpuinfo is absent)."""
    flags = set(_cpuinfo().split())
    return [flag for flag in NATIVE_BF16_FLAGS if flag in flags]


def cpu_has_native_bf16() -> bool:
    """Whether the CPU flags name a hardware bf16 matrix instruction set (False where unknown)."""
    return bool(_native_bf16_flags())


def cpu_description() -> dict[str, str | None]:
    """The CPU's model name and its hardware bf16 instruction sets ("amx_bf16 avx512_bf16", "none"),
    or None for each where /proc/cpuinfo is absent."""
    text = _cpuinfo()
    if not text:
        return {"cpu_model": None, "cpu_bf16": None}
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name") and ":" in line), None)
    return {"cpu_model": model, "cpu_bf16": " ".join(_native_bf16_flags()) or "none"}
