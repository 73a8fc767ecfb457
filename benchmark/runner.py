"""The runner: the only place that knows the order load → fit → explain → score → write.

A run lives in a ``RunDirectory`` (``<output-dir>/<dataset>/<method>/<run-id>/``). It resumes from
what it finished: the fitted model (``model/``), the predictions written so far
(``predictions/*.jsonl``, one file per shard, appended chunk by chunk), and it writes
``samples.jsonl`` then ``result.json`` last, atomically, so a leaderboard never reads half a result
(the score and write stages, ``xrec_bench.scoring``, are the ones ``xrec-bench score`` uses). One
process at a time holds a run (``xrec_bench.run_lock``). The code version a result records is taken
when the run starts.

Batches are formed once over the whole test set sorted by (``Method.batch_key``, sample id), in
``Method.explain_batch_size`` records; shards take every N-th batch and chunks, resumes and
shards cut only between batches, so a prediction never depends on how the run was split.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from xrec_bench.allocator import use_allocator
from xrec_bench.errors import UserError
from xrec_bench.files import atomic_write_json, staged_directory
from xrec_bench.line_files import cut_torn_tail
from xrec_bench.plugin import Explanation, Method, RunContext
from xrec_bench.progress import progress_factory
from xrec_bench.records import DatasetSplits, Record
from xrec_bench.registry import datasets, methods
from xrec_bench.results import Provenance
from xrec_bench.run_directory import TRAINING_FILE, RunDirectory
from xrec_bench.scoring import ScoredSample, score_all, write_run
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


def is_main_process() -> bool:
    """Under torchrun / accelerate launch every rank trains; only rank 0 saves, explains and writes."""
    return int(os.environ.get("RANK", "0")) == 0


# --- The fit and explain stages (score and write: xrec_bench.scoring) ---


def fit_or_resume(method: Method, splits: DatasetSplits, ctx: RunContext, run_dir: RunDirectory,
                  stages: StageLog) -> dict[str, Any] | None:
    """Fit once; a later run (or another shard) loads the saved model instead of training again."""
    if not type(method).needs_training or not is_main_process():
        with stages.stage("fit"):
            return method.fit(splits, ctx)
    saved = run_dir.saved_training()
    if saved is not None:
        with stages.stage("load_model"):
            method.load(run_dir.model_dir, ctx)
        return saved
    with stages.stage("fit"):
        report = method.fit(splits, ctx)
    with staged_directory(run_dir.model_dir) as staging:
        with stages.stage("save_model"):
            method.save(staging)
        atomic_write_json(staging / TRAINING_FILE, report)
    return report


def explain_batches(method: Method, records: Sequence[Record]) -> list[list[Record]]:
    """The whole test set sorted by (the method's batch key, sample id), cut into its explain batches."""
    size = int(getattr(method, "explain_batch_size", 1) or 1)
    ordered = sorted(records, key=lambda r: (method.batch_key(r), r.sample_id))
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def explain_missing(method: Method, batches: Sequence[Sequence[Record]], done: dict[str, Explanation],
                    ctx: RunContext, shard_file: Path, chunk_size: int) -> None:
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


def explain_stage(method: Method, records: Sequence[Record], shard: tuple[int, int] | None, ctx: RunContext,
                  run_dir: RunDirectory, stages: StageLog, chunk_size: int) -> dict[str, Explanation]:
    """Explain this shard's batches that have no prediction yet; return every prediction on disk."""
    batches = explain_batches(method, records)
    done = run_dir.predictions()
    with stages.stage("explain"):
        explain_missing(method, batches if shard is None else batches[shard[0] - 1::shard[1]], done, ctx,
                        run_dir.shard_file(shard), chunk_size)
    return done


def dataset_section(name: str, splits: DatasetSplits, method_cls: type[Method], n_scored: int) -> dict[str, Any]:
    """result.json's ``dataset``: the split sizes, which split was scored, and the files' checksums."""
    section = {"name": name, "splits": {"train": len(splits.train), "valid": len(splits.valid),
                                               "test": len(splits.test)},
               "test_split": method_cls.test_split, "n_scored": n_scored,
               "checksums": splits.card.get("checksums", {}), "card_note": splits.card.get("note")}
    if splits.released is not None:
        section["released_predictions"] = splits.card.get("released_predictions")
    return section


# --- One cell, in order ---


def run(config: dict[str, Any], output_dir: Path, *, shard: tuple[int, int] | None = None,
        overwrite: bool = False, show_progress: bool = True, log: Callable[[str], None] = print,
        wait: bool = False) -> Path:
    """Run one (method, dataset, config) cell; return the path of result.json (or of the shard's file).

    Another process running the same cell is a UserError naming it, or, with ``wait``, waited for.
    """
    method_cls = methods.get(config["method"]["name"])
    # the code that starts the run, whatever is edited while it runs
    provenance = Provenance.now(method_cls.__module__)
    datasets.get(config["dataset"])  # unknown names fail before anything is written
    run_dir = RunDirectory.of(output_dir, config, method_cls.name)
    if not is_main_process():  # the other ranks of one torchrun job only train beside rank 0
        return _run_cell(config, run_dir, method_cls, shard, overwrite, show_progress, log, provenance)
    with run_dir.lock(wait=wait):
        return _run_cell(config, run_dir, method_cls, shard, overwrite, show_progress, log, provenance)


def _run_cell(config: dict[str, Any], run_dir: RunDirectory, method_cls: type[Method],
              shard: tuple[int, int] | None, overwrite: bool, show_progress: bool, log: Callable[[str], None],
              provenance: Provenance) -> Path:
    dataset_name = config["dataset"]
    if not overwrite and run_dir.completed_result() is not None:
        log(f"already complete: {run_dir.result_path}")
        return run_dir.result_path
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
        run_dir.discard()
    run_dir.start(config)
    device = config["runtime"]["device"]
    use_allocator(config["runtime"]["allocator"], config["runtime"]["memory_budget_mb"])
    threads = config["runtime"]["threads"]
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    seed_everything(int(config["seed"]))
    ctx = RunContext(device=device, seed=int(config["seed"]), config=config, scratch_dir=run_dir.scratch_dir,
                     cache_dir=cache_dir(), progress=progress_factory(show_progress), shard=shard)
    ctx.scratch_dir.mkdir(exist_ok=True)

    method = method_cls(config["method"])
    training = fit_or_resume(method, splits, ctx, run_dir, stages)
    if not is_main_process():
        log(f"rank {os.environ['RANK']} finished training; rank 0 explains and writes {run_dir.path}")
        return run_dir.path
    done = explain_stage(method, records, shard, ctx, run_dir, stages,
                         int(config["runtime"]["explain_chunk"]))
    missing = [r.sample_id for r in records if r.sample_id not in done]
    if missing:
        log(f"shard {shard[0]}/{shard[1]} done; {len(missing)} test records await other shards in {run_dir.path}")
        return run_dir.shard_file(shard)

    samples = [ScoredSample(r.sample_id, r.explanation or "", done[r.sample_id], r.uid, r.iid) for r in records]
    scores = score_all(config, [s.prediction for s in samples], [s.reference for s in samples], ctx, stages)
    write_run(run_dir, samples, scores, config=config,
              method={"name": method_cls.name, "version": method_cls.version, "config": config["method"]},
              dataset=dataset_section(dataset_name, splits, method_cls, len(records)), training=training, stages=stages,
              provenance=provenance, device=device)
    return run_dir.result_path
