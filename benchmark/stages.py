"""Per-stage wall time and peak resident memory, for the timings a result records; the process's
memory probes (now and peak), which training reports use too."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from xrec_bench.progress import log

_STATUS = Path("/proc/self/status")


def peak_rss_mb() -> float:
    """The peak resident memory of this process so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux), else the peak so far."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, looked up once; None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Hand memory that Python and the C allocator hold but no longer use back to the system.

    glibc keeps freed blocks in its arenas, so a stage that follows training (generation, scoring)
    otherwise stacks on top of the training peak: in a 20-step XRec training, RSS after training went
    from 3.2 GB to 1.0 GB with ``malloc_trim``, and the process peak from 4.2 to 3.6 GB.
    """
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class StageLog:
    """Collects ``timings_s`` and ``peak_memory_mb`` per named stage."""

    def __init__(self) -> None:
        self.timings_s: dict[str, float] = {}
        self.peak_memory_mb: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, interval_s: float = 0.05) -> Iterator[None]:
        peak = [current_rss_mb()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(interval_s):
                peak[0] = max(peak[0], current_rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        finished = False
        try:
            yield
            finished = True
        finally:
            stop.set()
            sampler.join()
            peak[0] = max(peak[0], current_rss_mb())
            elapsed = time.perf_counter() - start
            self.timings_s[name] = round(self.timings_s.get(name, 0.0) + elapsed, 3)
            self.peak_memory_mb[name] = round(max(self.peak_memory_mb.get(name, 0.0), peak[0]), 1)
            if finished:  # a failed stage ends in the error's one sentence alone
                log.info("stage %s: %.1f s, peak RSS %.0f MB", name, elapsed, peak[0])
            release_free_memory()  # after the stage's own figures: its cost is not the stage's
