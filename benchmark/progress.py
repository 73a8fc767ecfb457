"""What a user sees of a long run: tqdm bars on a terminal, periodic log lines everywhere else.

With stderr redirected to a file (or in CI), a loop wrapped by ``progress`` logs
``desc: done/total (rate/s, ETA m:ss)`` through the ``xrec_bench`` logger at most every
``interval_s`` seconds and once at its end; the CLI sends that logger to stderr (``-q`` silences it).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger("xrec_bench")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


class LoggedProgress:
    """An iterable that logs how far it got, how fast, and when it should end."""

    def __init__(self, iterable: Iterable, total: int | None = None, desc: str = "", interval_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.iterable, self.desc, self.interval_s, self.clock = iterable, desc or "progress", interval_s, clock
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)

    def line(self, done: int, elapsed: float) -> str:
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{self.desc}: {done}" + (f"/{self.total}" if self.total is not None else "")
        text += f" ({rate:.2f}/s"
        if self.total is not None and rate > 0 and done < self.total:
            text += f", ETA {_clock((self.total - done) / rate)}"
        return text + f", {_clock(elapsed)} so far)"

    def __iter__(self) -> Iterator[Any]:
        start = last = self.clock()
        for done, item in enumerate(self.iterable, start=1):
            yield item
            now = self.clock()
            if now - last >= self.interval_s or done == self.total:
                log.info("%s", self.line(done, now - start))
                last = now

    def __len__(self) -> int:
        return len(self.iterable)


def progress_factory(enabled: bool, interval_s: float = 30.0) -> Callable[..., Iterable]:
    """tqdm bars on a terminal (not in CI); logged progress lines otherwise; nothing when not ``enabled``."""
    terminal = enabled and sys.stderr.isatty() and not os.environ.get("CI")

    def progress(iterable: Iterable, **kwargs: Any) -> Iterable:
        if not enabled:
            return iterable
        if terminal:
            from tqdm.auto import tqdm

            return tqdm(iterable, dynamic_ncols=True, leave=False, **kwargs)
        return LoggedProgress(iterable, kwargs.get("total"), kwargs.get("desc", ""), interval_s)

    return progress
