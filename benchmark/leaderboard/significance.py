"""Which methods of a main-table column are not significantly different from its best one.

Per row, each test sample's score is averaged over the row's seeds (per sample id, from the runs'
samples.jsonl; the runs of one seed are averaged first, as the cell's mean averages them, and only
runs scored under the column's own metric config count); the rows scored on the same test samples
are compared with the best of them by a paired bootstrap over sample ids (the same resampled ids
for every row, two-sided, shifted-null p-value; a per-sample score missing in either row of a pair
leaves that sample out of the pair's comparison), and Holm's correction runs across the comparisons
of the column. A corpus-level value (BLEU, USR) is recomputed on every resample from the predictions
and references, with the metric's own functions. Every row with per-sample files also gets its 95%
percentile interval from the same resamples. All of it is seeded: the same files give the same marks.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from xrec_bench.files import config_hash
from xrec_bench.leaderboard.board import KEY_LENGTH, Column, Row
from xrec_bench.results import RunResult
from xrec_bench.sample_files import read_sample_rows
from xrec_bench.statistics import DEFAULT_RESAMPLES, holm_adjusted, resampled_indices, shifted_null_p_value

ALPHA = 0.05
SEED = 0
CI_LEVEL = 0.95

Statistic = Callable[[np.ndarray], np.ndarray]  # (resamples × n sample indices) -> one value per resample
SampleRows = dict[str, dict[str, Any]]  # sample id -> its samples.jsonl row
Seeds = list[list[RunResult]]  # a row's runs of one column, grouped by seed (seeds in order)


@dataclass(frozen=True)
class RowStatistic:
    """One row's value in a column as a function of the resampled sample indices."""

    values_on: Statistic
    ids: list[str]  # the sample ids the indices point into
    per_sample: np.ndarray | None = None  # sample-level values: each sample's score over seeds (NaN: missing)


@dataclass(frozen=True)
class Settings:
    resamples: int = DEFAULT_RESAMPLES
    alpha: float = ALPHA
    seed: int = SEED


@dataclass
class ColumnTest:
    """What the significance stage did in one column."""

    n: int = 0  # test samples of the compared rows
    reference: str | None = None  # label of the best compared row
    compared: list[str] = field(default_factory=list)  # labels tested against the reference
    not_compared: dict[str, str] = field(default_factory=dict)  # label -> why it was left out


class SampleFiles:
    """The per-sample rows of each run, read once (``paths`` maps (method, run id) to its file or None)."""

    def __init__(self, paths: dict[tuple[str, str], Path | None]):
        self.paths = paths
        self._read: dict[tuple[str, str], SampleRows] = {}

    def key(self, run: RunResult) -> tuple[str, str]:
        return run.method["name"], run.run_id

    def has(self, run: RunResult) -> bool:
        return self.paths.get(self.key(run)) is not None

    def rows(self, run: RunResult) -> SampleRows:
        key = self.key(run)
        if key not in self._read:
            path = self.paths[key]
            assert path is not None
            self._read[key] = {str(row["sample_id"]): row for row in read_sample_rows(path)}
        return self._read[key]


# --- One row's statistic over resampled sample ids ---


def _sample_level(seeds: Seeds, files: SampleFiles, column: Column, ids: list[str]) -> RowStatistic:
    """Mean over the resampled ids of each sample's score averaged over seeds (missing scores left out)."""
    per_seed = np.full((len(seeds), len(ids)), np.nan)
    for position, runs in enumerate(seeds):
        scores = np.full((len(runs), len(ids)), np.nan)
        for index, run in enumerate(runs):
            rows = files.rows(run)
            for sample, sample_id in enumerate(ids):
                value = (rows[sample_id].get("scores") or {}).get(column.value_name)
                if value is not None:
                    scores[index, sample] = float(value)
        per_seed[position] = _nanmean(scores, axis=0)
    per_sample = _nanmean(per_seed, axis=0)

    def statistic(indices: np.ndarray) -> np.ndarray:
        return _nanmean(per_sample[indices], axis=1)

    return RowStatistic(statistic, ids, per_sample)


def _bleu(order: int) -> Callable[[list[dict[str, Any]], dict[str, Any]], Statistic]:
    def build(rows: list[dict[str, Any]], config: dict[str, Any]) -> Statistic:
        from sacrebleu.metrics import BLEU
        from xrec_bench.metrics.lexical import corpus_bleu
        from xrec_bench.tokenization import pepler_tokenize

        lowercase = bool(config["lowercase"])  # recorded in the value's config
        hyps = [pepler_tokenize(row["prediction"], lowercase) for row in rows]
        refs = [pepler_tokenize(row["reference"], lowercase) for row in rows]
        # corpus_bleu's sacrebleu BLEU, summed from sacrebleu's own per-sentence statistics so that a
        # resample costs a sum instead of a re-count; checked equal to corpus_bleu on the full set below.
        bleu = BLEU(tokenize="none", smooth_method="none", max_ngram_order=order, force=True)
        stats = np.asarray(bleu._extract_corpus_statistics([" ".join(h) for h in hyps],
                                                           [[" ".join(r) for r in refs]]), dtype=np.int64)
        full = bleu._compute_score_from_stats(stats.sum(axis=0).tolist()).score
        if not math.isclose(full, corpus_bleu(hyps, refs, order), rel_tol=1e-9, abs_tol=1e-9):
            raise _Unrecomputable(f"bleu{order} summed from sentence statistics differs from corpus_bleu")

        def statistic(indices: np.ndarray) -> np.ndarray:
            sums = stats[indices].sum(axis=1)
            return np.asarray([bleu._compute_score_from_stats(row.tolist()).score for row in sums])

        return statistic

    return build


def _unique_sentences(ratio: bool) -> Callable[[list[dict[str, Any]], dict[str, Any]], Statistic]:
    def build(rows: list[dict[str, Any]], config: dict[str, Any]) -> Statistic:
        from xrec_bench.metrics.usr import unique_sentence_count

        # Whitespace-normalised once: the same token sequences, so the same count, at a fraction of the cost.
        texts = [" ".join(row["prediction"].split()) for row in rows]

        def statistic(indices: np.ndarray) -> np.ndarray:
            counts = np.asarray([unique_sentence_count([texts[i] for i in row]) for row in indices], dtype=float)
            return counts / indices.shape[1] if ratio else counts

        return statistic

    return build


CORPUS_STATISTICS: dict[str, Callable[[list[dict[str, Any]], dict[str, Any]], Statistic]] = {
    "bleu1": _bleu(1), "bleu4": _bleu(4), "usr": _unique_sentences(True), "usn": _unique_sentences(False)}
# A resample repeats test samples, and a distinct-sentence count cannot tell a repeated draw from a
# repeated explanation: its resampled values sit below the full-set value, so their percentiles are no
# interval for it. The paired test still compares like with like (both rows see the same repeats).
NO_INTERVAL = frozenset({"usr", "usn"})


class _Unrecomputable(Exception):
    """A corpus value that cannot be recomputed from the per-sample files as result.json has it."""


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean leaving out missing scores; an all-missing slice is NaN (without numpy's RuntimeWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def _corpus_level(seeds: Seeds, files: SampleFiles, column: Column, ids: list[str]) -> RowStatistic:
    """The corpus value recomputed per run on the resampled ids, averaged within each seed, then over seeds."""
    build = CORPUS_STATISTICS[column.value_name]
    per_seed: list[list[Statistic]] = []
    for runs in seeds:
        per_seed.append([])
        for run in runs:
            statistic = build([files.rows(run)[i] for i in ids], column.config)
            recorded = float(run.metrics[column.value_name]["value"])
            again = float(statistic(np.arange(len(ids))[None, :])[0])
            if not math.isclose(again, recorded, rel_tol=1e-6, abs_tol=1e-9):
                raise _Unrecomputable(f"its {column.value_name} recomputed from {run.run_id}'s samples is "
                                      f"{again:.6g}, not the {recorded:.6g} of its result.json")
            per_seed[-1].append(statistic)

    def statistic(indices: np.ndarray) -> np.ndarray:
        return np.mean([np.mean([run(indices) for run in runs], axis=0) for runs in per_seed], axis=0)

    return RowStatistic(statistic, ids)


def _paired_differences(best: RowStatistic, other: RowStatistic, resamples: np.ndarray) -> tuple[float, np.ndarray]:
    """The observed difference best − other and its resampled values (finite ones only). Sample-level
    values are compared on the samples both rows have a score for (NaN where they share none)."""
    full = np.arange(len(best.ids))[None, :]
    if best.per_sample is not None and other.per_sample is not None:
        differences = best.per_sample - other.per_sample  # NaN where either row has no score

        def difference_on(indices: np.ndarray) -> np.ndarray:
            return _nanmean(differences[indices], axis=1)
    else:
        def difference_on(indices: np.ndarray) -> np.ndarray:
            return best.values_on(indices) - other.values_on(indices)
    resampled = difference_on(resamples)
    return float(difference_on(full)[0]), resampled[np.isfinite(resampled)]


# --- A column ---


def _ok_runs(row: Row, column: Column) -> list[RunResult]:
    """The row's runs with a value for this column: its metric, under the column's own metric config
    (a row may hold runs scored under another config of the same value, which belong to another column)."""
    return [run for run in row.runs if (payload := run.metrics.get(column.value_name)) is not None
            and payload.get("status") == "ok" and payload.get("value") is not None
            and config_hash(payload.get("config") or {}, KEY_LENGTH) == column.config_key]


def _by_seed(runs: list[RunResult]) -> Seeds:
    seeds: dict[int, list[RunResult]] = defaultdict(list)
    for run in runs:
        seeds[run.seed].append(run)
    return [seeds[seed] for seed in sorted(seeds)]


def _why_untestable(row: Row, column: Column, files: SampleFiles) -> str | None:
    runs = _ok_runs(row, column)
    missing = [run.run_id for run in runs if not files.has(run)]
    if missing:
        return f"no samples.jsonl beside {', '.join(missing)}"
    if column.level != "sample" and column.value_name not in CORPUS_STATISTICS:
        return f"{column.value_name} cannot be recomputed on a resample"
    if len({frozenset(files.rows(run)) for run in runs}) > 1:
        return "its seeds were scored on different samples"
    return None


def _percentile_interval(values: np.ndarray) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    tail = (1.0 - CI_LEVEL) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return float(low), float(high)


def mark_significance(column: Column, rows: list[Row], files: SampleFiles, settings: Settings) -> ColumnTest:
    """Set each tested cell's ``verdict`` and its bootstrapped ``ci95``; return what was done."""
    test = ColumnTest()
    statistics: dict[str, RowStatistic] = {}
    for row in rows:
        cell = row.cells.get(column.key)
        if cell is None or cell.mean is None:
            continue
        why = _why_untestable(row, column, files)
        runs = _ok_runs(row, column)
        if why is None:
            ids = sorted(files.rows(runs[0]))
            build = _sample_level if column.level == "sample" else _corpus_level
            try:
                statistics[row.label] = build(_by_seed(runs), files, column, ids)
            except _Unrecomputable as problem:
                why = str(problem)
        if why is not None:
            test.not_compared[row.label] = why
    # The compared rows share one test set: the one most rows were scored on (then the larger one).
    sets = Counter(tuple(statistic.ids) for statistic in statistics.values())
    if not sets:
        return test
    shared = min(sets, key=lambda ids: (-sets[ids], -len(ids), ids))
    for label, statistic in statistics.items():
        indices = resampled_indices(len(statistic.ids), settings.resamples, settings.seed)
        row = next(r for r in rows if r.label == label)
        row.cells[column.key].ci95 = None if column.value_name in NO_INTERVAL else _percentile_interval(
            statistic.values_on(indices))
        if tuple(statistic.ids) != shared:
            test.not_compared[label] = f"scored on other test samples (n = {len(statistic.ids)}, not {len(shared)})"
    group = [label for label, statistic in statistics.items() if tuple(statistic.ids) == shared]
    test.n = len(shared)
    if len(group) < 2 or column.higher_is_better is None:
        return test
    indices = resampled_indices(len(shared), settings.resamples, settings.seed)
    full = np.arange(len(shared))[None, :]
    observed = {label: float(statistics[label].values_on(full)[0]) for label in group}
    sign = 1.0 if column.higher_is_better else -1.0
    reference = min(group, key=lambda label: (-sign * observed[label], label))  # ties: the first label
    others, p_values, favours_reference = [], [], []
    for label in [label for label in group if label != reference]:
        observed_difference, resampled = _paired_differences(statistics[reference], statistics[label], indices)
        if not math.isfinite(observed_difference):
            test.not_compared[label] = f"no test sample has a score from both it and {reference}"
            continue
        others.append(label)
        p_values.append(shifted_null_p_value(observed_difference, resampled))
        favours_reference.append(sign * observed_difference > 0)
    by_label = {row.label: row for row in rows}
    by_label[reference].cells[column.key].verdict = "best"
    for label, adjusted, worse_side in zip(others, holm_adjusted(p_values), favours_reference):
        # "worse" needs a significant difference in the reference's favour on the samples the pair shares;
        # where a row's missing scores make it the better one there, it is at least not significantly worse.
        by_label[label].cells[column.key].verdict = "worse" if adjusted < settings.alpha and worse_side else "tied"
    test.reference, test.compared = reference, others
    return test
