"""Turning per-sample scores into a reported value: mean and the XRec paper's "stability" (std)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xrec_bench.plugin import MetricResult, ValueSpec


def summarise(values: Sequence[float], config: dict[str, Any], *, declared: ValueSpec,
              extra: dict[str, Any] | None = None) -> MetricResult:
    """Mean and population std (numpy's default, as XRec's evaluation reports) of per-sample values,
    as the sample-level value ``declared``."""
    import numpy as np

    if declared.level != "sample":
        raise ValueError(f"summarise gives sample-level values; this value is declared {declared.level}-level")
    array = np.asarray(values, dtype=np.float64)
    return MetricResult(declared=declared, value=float(array.mean()), std=float(array.std()), n=int(array.size),
                        per_sample=[float(v) for v in array], config=config, extra=dict(extra or {}))
