"""The runner: the only place that knows the order load → fit → explain → score → write.

A run lives in ``<output-dir>/<dataset>/<method>/<run-id>/``. It resumes from what it finished:
the fitted model (``model/``), the predictions written so far (``predictions/*.jsonl``, one file
per shard, appended chunk by chunk), and it writes ``samples.jsonl`` then ``result.json`` last,
atomically, so a leaderboard never reads half a result. One process at a time holds a run
(``xrec_bench.run_lock``).

Batches are formed once over the whole test set sorted by (``Method.batch_key``, sample id), in
``Method.explain_batch_size`` records; shards take every N-th batch and chunks, resumes and
shards cut only between batches, so a prediction never depends on how the run was split.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from xrec_bench import config as run_config
from xrec_bench.atomic_files import fsync_directory
from xrec_bench.errors import MetricUnavailable, UserError
from xrec_bench.line_files import cut_torn_tail, split_lines
from xrec_bench.plugin import Explanation, Method, MetricResult, RunContext
from xrec_bench.progress import progress_factory
from xrec_bench.records import DatasetSplits, Record
from xrec_bench.registry import datasets, methods, metrics
from xrec_bench.results import (
    SCHEMA_VERSION,
    atomic_write_json,
    atomic_write_text,
    decoding_summary,
    environment,
    metric_payload,
    read_result,
    write_samples,
)
from xrec_bench.run_lock import run_lock
from xrec_bench.seeding import seed_everything
from xrec_bench.stages import StageLog


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard expects i/N with whole numbers (for example 2/4), got {text!r}.") from None
    if not 1 <= index <= count:
        raise UserError(f"--shard {text}: i must be between 1 and N.")
    return index, count


def cache_dir() -> Path:
    from xrec_bench.models import cache_root

    return cache_root()


def limited(splits: DatasetSplits, limit: int | None) -> DatasetSplits:
    if limit is None:  # config.resolve refuses anything but null or a whole number >= 1
        return splits
    splits.train, splits.valid, splits.test = splits.train[:limit], splits.valid[:limit], splits.test[:limit]
    if splits.released is not None:
        splits.released = splits.released[:limit]
    return splits


def test_records(splits: DatasetSplits, method_cls: type[Method]) -> list[Record]:
    if method_cls.test_split == "released":
        if splits.released is None:
            raise UserError(f"Dataset {splits.name} has no released predictions for {method_cls.name}.")
        return splits.released
    return splits.test


def read_predictions(directory: Path) -> dict[str, Explanation]:
    """Every prediction written so far by any shard, with its decoding record where the method gave one
    (later lines win; a torn last line is ignored)."""
    found: dict[str, str] = {}
    for path in sorted(directory.glob("*.jsonl")) if directory.is_dir() else []:
        for line in split_lines(path.read_text(encoding="utf-8")):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            found[row["sample_id"]] = Explanation(row["prediction"], row.get("decoding"))
    return found


def score_all(config: dict[str, Any], predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext, stages: StageLog) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]]]:
    """Run every configured metric; a metric that cannot run here is recorded as skipped."""
    from xrec_bench.statistics import bootstrap_ci

    payloads: dict[str, dict[str, Any]] = {}
    per_sample: dict[str, list[float]] = {}
    bootstrap = int(config["metrics"].get("bootstrap_resamples") or 0)  # 0 turns the 95% CI off
    for family in config["metrics"]["names"]:
        metric_cls = metrics.get(family)
        metric_config = config["metrics"].get(family, {})
        with stages.stage(f"score:{family}"):
            try:
                results = metric_cls(metric_config).score(list(predictions), list(references), ctx)
            except MetricUnavailable as reason:
                results = {name: MetricResult.skipped(
                    str(reason), metric_config, higher_is_better=metric_cls.higher_is_better.get(name, True),
                    level=metric_cls.level) for name in metric_cls.value_names}
        for name, result in results.items():
            if result.per_sample is not None and result.status == "ok" and bootstrap:
                result.extra.setdefault("ci95", bootstrap_ci(result.per_sample, ctx.seed, n_resamples=bootstrap))
            payloads[name] = metric_payload(family, result)
            if result.per_sample is not None:
                per_sample[name] = list(result.per_sample)
    return payloads, per_sample


def write_run(run_dir: Path, config: dict[str, Any], records: Sequence[Record], predictions: Sequence[str],
              metric_payloads: dict[str, dict[str, Any]], per_sample: dict[str, list[float]], *,
              dataset_info: dict[str, Any], method_info: dict[str, Any], training: dict[str, Any] | None,
              stages: StageLog, device: str) -> Path:
    """Write samples.jsonl, then result.json (last, so its presence means the run is complete)."""
    rows = []
    for index, (record, prediction) in enumerate(zip(records, predictions)):
        rows.append({"sample_id": record.sample_id, "uid": record.uid, "iid": record.iid,
                     "reference": record.explanation, "prediction": prediction,
                     "scores": {name: values[index] for name, values in sorted(per_sample.items())}})
        if getattr(prediction, "decoding", None):
            rows[-1]["decoding"] = prediction.decoding
    write_samples(run_dir / "samples.jsonl", rows)
    result = {
        "schema_version": SCHEMA_VERSION, "run_id": run_dir.name, "complete": True,
        "profile": config["profile"], "seed": config["seed"], "method": method_info,
        "dataset": dataset_info, "metrics": metric_payloads, "training": training,
        "environment": environment(device), "timings_s": stages.timings_s,
        "peak_memory_mb": stages.peak_memory_mb,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    path = run_dir / "result.json"
    atomic_write_json(path, result)
    return path


def is_main_process() -> bool:
    """Under torchrun / accelerate launch every rank trains; only rank 0 saves, explains and writes."""
    return int(os.environ.get("RANK", "0")) == 0


def fit_or_resume(method: Method, splits: DatasetSplits, ctx: RunContext, run_dir: Path,
                  stages: StageLog) -> dict[str, Any] | None:
    """Fit once; a later run (or another shard) loads the saved model instead of training again."""
    if not type(method).needs_training or not is_main_process():
        with stages.stage("fit"):
            return method.fit(splits, ctx)
    model_dir = run_dir / "model"
    if (model_dir / "training.json").is_file():
        with stages.stage("load_model"):
            method.load(model_dir)
        return json.loads((model_dir / "training.json").read_text(encoding="utf-8"))
    with stages.stage("fit"):
        report = method.fit(splits, ctx)
    staging = run_dir / "model.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with stages.stage("save_model"):
        method.save(staging)
    atomic_write_json(staging / "training.json", report)
    shutil.rmtree(model_dir, ignore_errors=True)
    staging.rename(model_dir)
    fsync_directory(run_dir)
    return report


def explain_batches(method: Method, records: Sequence[Record]) -> list[list[Record]]:
    """The whole test set sorted by (the method's batch key, sample id), cut into its explain batches."""
    size = int(getattr(method, "explain_batch_size", 1) or 1)
    ordered = sorted(records, key=lambda r: (method.batch_key(r), r.sample_id))
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def explain_missing(method: Method, batches: Sequence[Sequence[Record]], done: dict[str, str], ctx: RunContext,
                    shard_file: Path, chunk_size: int) -> None:
    """Explain every batch that lacks a prediction, whole, appending each finished chunk to disk.

    A chunk is as many whole batches as fit in ``chunk_size`` records (at least one); a batch cut
    short by an interruption is explained again whole, so its predictions are the same.
    """
    todo = [batch for batch in batches if any(r.sample_id not in done for r in batch)]
    per_call = max(1, chunk_size // max(1, max((len(b) for b in batches), default=1)))
    chunks = [[r for batch in todo[i:i + per_call] for r in batch] for i in range(0, len(todo), per_call)]
    shard_file.parent.mkdir(parents=True, exist_ok=True)
    cut_torn_tail(shard_file)
    missing = sum(r.sample_id not in done for batch in todo for r in batch)
    with open(shard_file, "a", encoding="utf-8") as out:
        for chunk in ctx.progress(chunks, total=len(chunks), desc=f"explain ({missing} records)"):
            outputs = method.explain([r.without_reference() for r in chunk], ctx)
            if len(outputs) != len(chunk) or not all(isinstance(o, str) for o in outputs):
                raise RuntimeError(f"{type(method).__name__}.explain returned {len(outputs)} items for "
                                   f"{len(chunk)} records (must be one str per record)")
            for record, output in zip(chunk, outputs):
                if record.sample_id in done:
                    continue
                row = {"sample_id": record.sample_id, "prediction": output}
                if getattr(output, "decoding", None):
                    row["decoding"] = output.decoding
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                done[record.sample_id] = output
            out.flush()
            os.fsync(out.fileno())


def discard_run(run_dir: Path) -> None:
    """--overwrite: move the run away in one rename (result.json and samples.jsonl go together), then delete it."""
    if not run_dir.exists():
        return
    discarded = run_dir.with_name(f".{run_dir.name}.discarded-{os.getpid()}")
    shutil.rmtree(discarded, ignore_errors=True)
    run_dir.rename(discarded)
    fsync_directory(run_dir.parent)
    (discarded / "result.json").unlink(missing_ok=True)
    shutil.rmtree(discarded, ignore_errors=True)


def run(config: dict[str, Any], output_dir: Path, *, shard: tuple[int, int] | None = None,
        overwrite: bool = False, show_progress: bool = True, log: Callable[[str], None] = print,
        wait: bool = False) -> Path:
    """Run one (method, dataset, config) cell; return the path of result.json (or of the shard's file).

    Another process running the same cell is a UserError naming it, or, with ``wait``, waited for.
    """
    method_cls = methods.get(config["method"]["name"])
    datasets.get(config["dataset"])  # unknown names fail before anything is written
    run_dir = Path(output_dir) / config["dataset"] / method_cls.name / run_config.run_id(config)
    if not is_main_process():  # the other ranks of one torchrun job only train beside rank 0
        return _run_cell(config, run_dir, method_cls, shard, overwrite, show_progress, log)
    with run_lock(run_dir, wait=wait):
        return _run_cell(config, run_dir, method_cls, shard, overwrite, show_progress, log)


def _run_cell(config: dict[str, Any], run_dir: Path, method_cls: type[Method], shard: tuple[int, int] | None,
              overwrite: bool, show_progress: bool, log: Callable[[str], None]) -> Path:
    dataset_name = config["dataset"]
    result_path = run_dir / "result.json"
    if result_path.is_file() and not overwrite and read_result(result_path).get("complete"):
        log(f"already complete: {result_path}")
        return result_path
    stages = StageLog()
    with stages.stage("load"):
        splits = limited(
            datasets.get(dataset_name).load(need_train=method_cls.needs_training,
                                            need_released=method_cls.test_split == "released"),
            config["limit"])
    records = test_records(splits, method_cls)
    if not records:
        raise UserError(f"Dataset {dataset_name} has no test records to explain.")
    if overwrite:
        discard_run(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", run_config.dump(config))
    device = config["runtime"]["device"]
    threads = config["runtime"]["threads"]
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    seed_everything(int(config["seed"]))
    ctx = RunContext(device=device, seed=int(config["seed"]), config=config, scratch_dir=run_dir / "scratch",
                     cache_dir=cache_dir(), progress=progress_factory(show_progress), shard=shard)
    ctx.scratch_dir.mkdir(exist_ok=True)

    method = method_cls(config["method"])
    training = fit_or_resume(method, splits, ctx, run_dir, stages)
    if not is_main_process():
        log(f"rank {os.environ['RANK']} finished training; rank 0 explains and writes {run_dir}")
        return run_dir
    batches = explain_batches(method, records)
    shard_batches = batches if shard is None else batches[shard[0] - 1::shard[1]]
    predictions_dir = run_dir / "predictions"
    done = read_predictions(predictions_dir)
    shard_name = "all" if shard is None else f"shard-{shard[0]}-of-{shard[1]}"
    with stages.stage("explain"):
        explain_missing(method, shard_batches, done, ctx, predictions_dir / f"{shard_name}.jsonl",
                        int(config["runtime"]["explain_chunk"]))
    missing = [r.sample_id for r in records if r.sample_id not in done]
    if missing:
        log(f"shard {shard[0]}/{shard[1]} done; {len(missing)} test records await other shards in {run_dir}")
        return predictions_dir / f"{shard_name}.jsonl"

    predictions = [done[r.sample_id] for r in records]
    references = [r.explanation or "" for r in records]
    metric_payloads, per_sample = score_all(config, predictions, references, ctx, stages)
    dataset_info = {"name": dataset_name, "splits": {"train": len(splits.train), "valid": len(splits.valid),
                                                     "test": len(splits.test)},
                    "test_split": method_cls.test_split, "n_scored": len(records),
                    "checksums": splits.card.get("checksums", {}), "card_note": splits.card.get("note")}
    if splits.released is not None:
        dataset_info["released_predictions"] = splits.card.get("released_predictions")
    method_info = {"name": method_cls.name, "version": method_cls.version, "config": config["method"]}
    generation = decoding_summary(predictions)
    if generation is not None:
        method_info["generation"] = generation
    return write_run(run_dir, config, records, predictions, metric_payloads, per_sample,
                     dataset_info=dataset_info, method_info=method_info, training=training,
                     stages=stages, device=device)
