"""Stability beyond the std: bootstrap confidence intervals and paired bootstrap significance tests.

The XRec paper reports no significance at all; these give the interval of a per-sample metric's
mean and, for two runs on the same test set, the probability of a difference that large by chance.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xrec_bench.errors import UserError
from xrec_bench.results import RunResult
from xrec_bench.sample_files import read_sample_rows, samples_file

DEFAULT_RESAMPLES = 1000


def resampled_indices(n: int, n_resamples: int, seed: int):
    """``n_resamples`` rows of ``n`` sample indices drawn with replacement (numpy's PCG64, seeded)."""
    import numpy as np

    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def shifted_null_p_value(observed: float, resampled: Sequence[float]) -> float:
    """Two-sided p-value of an observed difference from its bootstrap resamples: the share of resampled
    differences at least as far from the observed one as it is from zero (Berg-Kirkpatrick et al. 2012),
    as (count + 1) / (resamples + 1)."""
    import numpy as np

    values = np.asarray(resampled, dtype=np.float64)
    extreme = int(np.count_nonzero(np.abs(values - observed) >= abs(observed)))
    return (extreme + 1) / (values.size + 1)


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), in the order given."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: (p_values[i], i))):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def bootstrap_ci(per_sample: Sequence[float], seed: int = 0, *, n_resamples: int = DEFAULT_RESAMPLES,
                 level: float = 0.95) -> list[float] | None:
    """Percentile bootstrap interval ``[low, high]`` of the mean of ``per_sample`` (None when empty).

    Missing values (None: e.g. a judge reply that never parsed) are left out, as the mean leaves them out.
    """
    import numpy as np

    values = np.asarray([v for v in per_sample if v is not None], dtype=np.float64)
    if values.size == 0:
        return None
    means = values[resampled_indices(values.size, n_resamples, seed)].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    return [float(low), float(high)]


def paired_bootstrap(a: Sequence[float], b: Sequence[float], seed: int = 0, *,
                     n_resamples: int = 10_000, level: float = 0.95) -> dict[str, Any]:
    """Paired bootstrap test of mean(a) − mean(b) over the same samples (two-sided).

    Resamples sample indices jointly; the p-value is ``shifted_null_p_value`` of the resampled differences.
    """
    import numpy as np

    left, right = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if left.shape != right.shape or left.size == 0:
        raise UserError(f"A paired test needs two equally long, non-empty score lists (got {left.size} "
                        f"and {right.size}); compare runs on the same test set.")
    differences = left - right
    observed = float(differences.mean())
    resampled = differences[resampled_indices(differences.size, n_resamples, seed)].mean(axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(resampled, [tail, 100.0 - tail])
    return {"mean_a": float(left.mean()), "mean_b": float(right.mean()), "difference": observed,
            "ci95": [float(low), float(high)], "p_value": shifted_null_p_value(observed, resampled),
            "n": int(differences.size), "resamples": n_resamples, "seed": seed}


def _read_samples(run_dir: Path) -> dict[str, dict[str, float]]:
    path = samples_file(Path(run_dir))
    if path is None:
        raise UserError(f"{run_dir} has no samples.jsonl (nor samples.jsonl.gz); pass the directory of a "
                        f"finished run.")
    return {str(row["sample_id"]): row.get("scores") or {} for row in read_sample_rows(path)}


def _metric_configs(run_dir: Path) -> dict[str, Any]:
    """Each metric value's config, from the run's result.json (a UserError naming it when it is missing)."""
    return {name: entry.get("config") for name, entry in RunResult.from_disk(run_dir).metrics.items()}


def compare_runs(run_dir_a: str | Path, run_dir_b: str | Path, *, seed: int = 0,
                 n_resamples: int = 10_000) -> dict[str, dict[str, Any]]:
    """Paired bootstrap comparison of every per-sample metric two runs share, matched by sample id.

    A metric whose recorded config differs between the runs is reported with ``status: "skipped"``
    and the reason, never compared.
    """
    scores_a, scores_b = _read_samples(Path(run_dir_a)), _read_samples(Path(run_dir_b))
    if set(scores_a) != set(scores_b):
        only_a, only_b = len(set(scores_a) - set(scores_b)), len(set(scores_b) - set(scores_a))
        raise UserError(f"The runs were not scored on the same test set ({only_a} sample ids only in "
                        f"{run_dir_a}, {only_b} only in {run_dir_b}); compare runs of the same dataset and limit.")
    ids = sorted(scores_a)
    configs_a, configs_b = _metric_configs(Path(run_dir_a)), _metric_configs(Path(run_dir_b))
    shared = sorted(set.intersection(*(set(scores_a[i]) & set(scores_b[i]) for i in ids))) if ids else []
    comparison = {}
    for name in shared:
        if configs_a.get(name) != configs_b.get(name):
            comparison[name] = {"status": "skipped", "reason": f"{name} was computed with different configs "
                                f"({configs_a.get(name)} vs {configs_b.get(name)})"}
            continue
        # Samples missing a score in either run (an unparseable judge reply) drop out of the pairing.
        both = [i for i in ids if scores_a[i][name] is not None and scores_b[i][name] is not None]
        if not both:
            comparison[name] = {"status": "skipped", "reason": f"{name} has no sample scored in both runs"}
            continue
        a, b = [scores_a[i][name] for i in both], [scores_b[i][name] for i in both]
        comparison[name] = {"status": "ok", **paired_bootstrap(a, b, seed, n_resamples=n_resamples)}
    return comparison
