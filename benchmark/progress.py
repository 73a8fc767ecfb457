"""What a user sees of a long run: tqdm bars on a terminal, periodic log lines everywhere else.

With stderr redirected to a file (or in CI), a loop wrapped by ``progress`` logs
``desc: done/total (rate/s, ETA m:ss)`` through the ``xrec_bench`` logger at most every
``interval_s`` seconds and once at its end; the CLI sends that logger to stderr (``-q`` silences it).

What ``progress(...)`` returns is a ``Progress``: iterate it, and call ``report(loss=..., lr=...)``
from a training loop to show the latest values (in the bar's postfix on a terminal, at the end of
each logged line elsewhere).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

log = logging.getLogger("xrec_bench")


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}:{rest:02d}"


def shown(value: float) -> str:
    """A reported value in a few characters: 3.2100, 1.00e-04."""
    return f"{value:.2e}" if value and abs(value) < 1e-2 else f"{value:.4f}"


class Progress(Protocol):
    """What ``RunContext.progress`` returns: the wrapped iterable, plus a way to show the latest values."""

    def __iter__(self) -> Iterator[Any]: ...

    def report(self, **values: float) -> None:
        """Show these values (e.g. ``loss=2.31, lr=1e-4``) with the progress from now on."""


class SilentProgress:
    """The iterable, unchanged, for loops nobody watches (progress off, a method called directly)."""

    def __init__(self, iterable: Iterable):
        self.iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable)

    def __len__(self) -> int:
        return len(self.iterable)

    def report(self, **values: float) -> None:
        pass


def silent_progress(iterable: Iterable, **_: Any) -> SilentProgress:
    return SilentProgress(iterable)


class BarProgress:
    """A tqdm bar whose postfix shows the reported values."""

    def __init__(self, iterable: Iterable, **kwargs: Any):
        from tqdm.auto import tqdm

        self.bar = tqdm(iterable, dynamic_ncols=True, leave=False, **kwargs)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.bar)

    def __len__(self) -> int:
        return len(self.bar)

    def report(self, **values: float) -> None:
        self.bar.set_postfix({name: shown(value) for name, value in values.items()}, refresh=False)


class LoggedProgress:
    """An iterable that logs how far it got, how fast, when it should end, and the last reported values."""

    def __init__(self, iterable: Iterable, total: int | None = None, desc: str = "", interval_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.iterable, self.desc, self.interval_s, self.clock = iterable, desc or "progress", interval_s, clock
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.values: dict[str, float] = {}

    def report(self, **values: float) -> None:
        self.values.update(values)

    def line(self, done: int, elapsed: float) -> str:
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{self.desc}: {done}" + (f"/{self.total}" if self.total is not None else "")
        text += f" ({rate:.2f}/s"
        if self.total is not None and rate > 0 and done < self.total:
            text += f", ETA {_clock((self.total - done) / rate)}"
        text += f", {_clock(elapsed)} so far)"
        return text + "".join(f" {name} {shown(value)}" for name, value in self.values.items())

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


def progress_factory(enabled: bool, interval_s: float = 30.0) -> Callable[..., Progress]:
    """tqdm bars on a terminal (not in CI); logged progress lines otherwise; nothing shown when not ``enabled``."""
    terminal = enabled and sys.stderr.isatty() and not os.environ.get("CI")

    def progress(iterable: Iterable, **kwargs: Any) -> Progress:
        if not enabled:
            return SilentProgress(iterable)
        if terminal:
            return BarProgress(iterable, **kwargs)
        return LoggedProgress(iterable, kwargs.get("total"), kwargs.get("desc", ""), interval_s)

    return progress
