"""What this machine's CPU can do that decides a profile's precision.

The cpu profiles compute in bfloat16 only where the CPU multiplies bf16 matrices in hardware (AMX
or AVX-512 BF16). Elsewhere torch emulates bf16 matrix products: on an AVX2-only AMD EPYC, a
512 x 576 x 1536 product ran at 1.3 GFLOP/s in bf16 against 157 GFLOP/s in fp32, so those profiles
compute in fp32 there. The resolved config (and so the run id) records the precision a run used.
Read from /proc/cpuinfo, without importing torch, because plugins read it when they are listed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """Whether the CPU flags name a hardware bf16 matrix instruction set (False where unknown)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return False
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)
