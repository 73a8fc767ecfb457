"""How the C allocator treats the large, short-lived tensors of training and decoding.

glibc serves every allocation above its mmap threshold (at most 32 MB) with a fresh mmap and returns
it to the system on free. A training step allocates and frees vocabulary-sized tensors (a 49k x 576
embedding gradient, its bf16 cast, the logits) many times, so each one is zero-filled by the kernel
page by page again: in a PEPLER step on a 2-core CPU, filling and copying those fresh pages took
about half the time. ``retain`` tells glibc to serve large blocks from its heap and keep freed
memory for reuse (``mallopt``: no mmap, no trimming): measured on a 2-core CPU on 2026-12-02,
PEPLER's yelp-mini fit took 2,186 s (about 3,200 s with glibc's defaults, from their step rates) and
an Att2Seq epoch 12 s instead of 19 s, but the memory is never given back, so PEPLER's fit peaked at
11.6 GB of resident memory (4.1 GB with the defaults on 96 records) and, in an inline sweep, every
later cell kept what the earlier ones had held. So ``system`` (glibc's defaults) is the default, and
``retain`` is for a machine with memory to spare. Either way the numbers computed are the same.

``bounded`` is ``retain`` with a ceiling: after each optimiser step, the training loops call
``keep_within_budget``, which hands free memory back (``malloc_trim``, holes included) whenever the
resident set has grown past ``runtime.memory_budget_mb``. Below the budget, freed blocks are reused
as under ``retain``; above it, a step pays the fresh pages ``system`` would have paid.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

from xrec_bench.stages import current_rss_mb, release_free_memory

ALLOCATORS = ("bounded", "retain", "system")
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's mallopt parameter numbers (malloc.h)
_KEEP_ALL = 2**31 - 1  # the largest trim threshold mallopt takes (an int): never trim


_budget_mb: list[float | None] = [None]  # this process's ceiling under ``bounded``; None otherwise


def use_allocator(policy: str, budget_mb: float | None = None) -> bool:
    """Apply ``policy`` to this process (``budget_mb`` is ``bounded``'s ceiling); returns whether it
    took effect (glibc only). glibc cannot undo ``retain``'s settings, so ``system`` after another
    policy only drops the ceiling."""
    _budget_mb[0] = None
    if policy == "system" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    applied = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_ALL))
    if applied and policy == "bounded":
        _budget_mb[0] = budget_mb
    return applied


def keep_within_budget() -> bool:
    """Under ``bounded``, give free memory back if the resident set exceeds the budget; returns whether
    it did. Training loops call it after each optimiser step (reading VmRSS costs microseconds)."""
    budget = _budget_mb[0]
    if budget is None or current_rss_mb() <= budget:
        return False
    release_free_memory()
    return True
