"""Per-stage wall time and peak resident memory, for the timings a result records."""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_STATUS = Path("/proc/self/status")


def current_rss_mb() -> float:
    """Resident memory of this process now (Linux), else the peak so far."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
        try:
            yield
        finally:
            stop.set()
            sampler.join()
            peak[0] = max(peak[0], current_rss_mb())
            self.timings_s[name] = round(self.timings_s.get(name, 0.0) + time.perf_counter() - start, 3)
            self.peak_memory_mb[name] = round(max(self.peak_memory_mb.get(name, 0.0), peak[0]), 1)
