"""The scoring models a process has loaded, kept in one table that the model-based metrics share.

Loading a checkpoint is the slow part of BERTScore, BARTScore, BLEURT and a local GPTScore judge, so
each loads a model once per process and configuration: ``load_once("bleurt", (path, device), load)``.
``forget_loaded`` empties the table (to free memory between runs of one process).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

Loaded = TypeVar("Loaded")

_LOADED: dict[tuple[str, Hashable], Any] = {}


def load_once(metric: str, key: Hashable, load: Callable[[], Loaded]) -> Loaded:
    """What ``load()`` returns, loaded at most once per process for this metric and key."""
    if (metric, key) not in _LOADED:
        _LOADED[(metric, key)] = load()
    return _LOADED[(metric, key)]


def loaded(metric: str) -> list[Any]:
    """What this metric has loaded so far, in loading order."""
    return [value for (owner, _), value in _LOADED.items() if owner == metric]


def forget_loaded() -> None:
    _LOADED.clear()
