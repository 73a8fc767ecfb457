"""Turning per-sample scores into a reported value: mean and the XRec paper's "stability" (std)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xrec_bench.plugin import MetricResult


def summarise(values: Sequence[float], config: dict[str, Any], *, higher_is_better: bool | None = True,
              extra: dict[str, Any] | None = None) -> MetricResult:
    """Mean and population std (numpy's default, as XRec's evaluation reports) of per-sample values."""
    import numpy as np

    array = np.asarray(values, dtype=np.float64)
    return MetricResult(value=float(array.mean()), std=float(array.std()), n=int(array.size),
                        per_sample=[float(v) for v in array], config=config,
                        higher_is_better=higher_is_better, level="sample", extra=dict(extra or {}))
