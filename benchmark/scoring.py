"""The last two stages of a run, shared by ``xrec-bench run`` and ``xrec-bench score``: score every
configured metric over the predictions, then write samples.jsonl and result.json (last)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from xrec_bench.errors import MetricUnavailable
from xrec_bench.files import atomic_write_text
from xrec_bench.plugin import MetricResult, RunContext
from xrec_bench.registry import metrics
from xrec_bench.results import Provenance, RunResult, environment, utc_now
from xrec_bench.run_directory import RunDirectory
from xrec_bench.stages import StageLog


@dataclass(frozen=True)
class ScoredSample:
    """One prediction and the reference it is scored against; ``uid`` / ``iid`` where a dataset record
    gives them (a references file has none)."""

    sample_id: str
    reference: str
    prediction: str  # an ``Explanation`` keeps its decoding record
    uid: int | None = None
    iid: int | None = None


class Scores(NamedTuple):
    payloads: dict[str, dict[str, Any]]  # value name -> its result.json entry
    per_sample: dict[str, list[float | None]]  # value name -> one score per sample, where it has them


def metric_payload(family: str, result: MetricResult) -> dict[str, Any]:
    payload = asdict(result)
    payload.pop("per_sample")
    payload["metric"] = family
    return payload


def score_all(config: dict[str, Any], predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext, stages: StageLog) -> Scores:
    """The score stage: every configured metric; one that cannot run here is recorded as skipped."""
    from xrec_bench.statistics import bootstrap_ci

    payloads: dict[str, dict[str, Any]] = {}
    per_sample: dict[str, list[float | None]] = {}
    bootstrap = int(config["metrics"]["bootstrap_resamples"])  # 0 turns the 95% CI off
    for family in config["metrics"]["names"]:
        metric_cls = metrics.get(family)
        metric_config = config["metrics"][family]
        with stages.stage(f"score:{family}"):
            try:
                results = metric_cls(metric_config).score(list(predictions), list(references), ctx)
            except MetricUnavailable as reason:
                results = metric_cls.skipped(str(reason), metric_config)
        for name, result in results.items():
            if result.per_sample is not None and result.status == "ok" and bootstrap:
                result.extra.setdefault("ci95", bootstrap_ci(result.per_sample, ctx.seed, n_resamples=bootstrap))
            payloads[name] = metric_payload(family, result)
            if result.per_sample is not None:
                per_sample[name] = list(result.per_sample)
    return Scores(payloads, per_sample)


def decoding_summary(predictions: Iterable[str]) -> dict[str, Any] | None:
    """How decoding ended, over the predictions that say so (``Explanation.decoding``); None if none do."""
    found = [p.decoding for p in predictions if getattr(p, "decoding", None)]
    if not found:
        return None
    n = len(found)
    return {"n": n, "stopped_at_eos": sum(d.get("stop") == "eos" for d in found) / n,
            "hit_max_new_tokens": sum(d.get("stop") == "max_new_tokens" for d in found) / n,
            "mean_new_tokens": sum(d.get("new_tokens", 0) for d in found) / n}


def sample_rows(samples: Sequence[ScoredSample], per_sample: dict[str, list[float | None]]) -> list[dict[str, Any]]:
    rows = []
    for index, sample in enumerate(samples):
        row: dict[str, Any] = {"sample_id": sample.sample_id, "reference": sample.reference,
                               "prediction": sample.prediction,
                               "scores": {name: values[index] for name, values in sorted(per_sample.items())}}
        if sample.uid is not None:
            row["uid"] = sample.uid
        if sample.iid is not None:
            row["iid"] = sample.iid
        if getattr(sample.prediction, "decoding", None):
            row["decoding"] = sample.prediction.decoding
        rows.append(row)
    return rows


def write_run(run_dir: RunDirectory, samples: Sequence[ScoredSample], scores: Scores, *,
              config: dict[str, Any], method: dict[str, Any], dataset: dict[str, Any],
              training: dict[str, Any] | None, stages: StageLog, provenance: Provenance, device: str) -> RunResult:
    """The write stage: samples.jsonl, then result.json (last, so its presence means the run is complete)."""
    rows = sample_rows(samples, scores.per_sample)
    atomic_write_text(run_dir.samples_path,
                      "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows))
    generation = decoding_summary(sample.prediction for sample in samples)
    if generation is not None:
        method = {**method, "generation": generation}
    result = RunResult(run_id=run_dir.path.name, profile=config["profile"], seed=config["seed"], method=method,
                       dataset=dataset, metrics=scores.payloads, training=training,
                       environment=environment(device, provenance), timings_s=stages.timings_s,
                       peak_memory_mb=stages.peak_memory_mb, started_at=provenance.started_at,
                       created_at=utc_now())
    result.to_disk(run_dir.path)
    return result
