"""How the C allocator treats the large, short-lived tensors of training and decoding.

glibc serves every allocation above its mmap threshold (at most 32 MB) with a fresh mmap and
returns it to the system on free. A training step allocates and frees vocabulary-sized tensors
(a 49k x 576 embedding gradient, its bf16 cast, the logits) many times, so each one is zero-filled
by the kernel page by page again: in a PEPLER step on a 2-core CPU, filling and copying those
fresh pages took about half the time. ``retain`` tells glibc to serve large blocks from its heap
and keep freed memory for reuse (``mallopt``: no mmap, no trimming); ``system`` leaves glibc's
defaults. Either way the numbers computed are the same; only where the bytes live differs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

ALLOCATORS = ("retain", "system")
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's mallopt parameter numbers (malloc.h)
_KEEP_ALL = 2**31 - 1  # the largest trim threshold mallopt takes (an int): never trim


def use_allocator(policy: str) -> bool:
    """Apply ``policy`` to this process; returns whether it took effect (glibc only)."""
    if policy == "system" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_ALL))
