"""A run's directory, ``<output-dir>/<dataset>/<method>/<run-id>/``, and what a resume finds in it.

``config.yaml`` (the resolved config), ``model/`` (the fitted model and ``training.json``, renamed
into place whole), ``predictions/*.jsonl`` (one file per shard, appended chunk by chunk),
``samples.jsonl`` and ``result.json`` (written last); ``scratch/`` for a method's own files. The
lock that lets one process at a time hold it lies beside it (``xrec_bench.run_lock``).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrec_bench import config as run_config
from xrec_bench.files import atomic_write_text, fsync_directory
from xrec_bench.line_files import split_lines
from xrec_bench.plugin import Explanation
from xrec_bench.results import RESULT_FILE, RunResult
from xrec_bench.run_lock import run_lock

TRAINING_FILE = "training.json"


def read_predictions(directory: Path) -> dict[str, Explanation]:
    """Every prediction written so far by any shard, with its decoding record where the method gave one
    (later lines win; a torn last line is ignored)."""
    found: dict[str, Explanation] = {}
    for path in sorted(directory.glob("*.jsonl")) if directory.is_dir() else []:
        for line in split_lines(path.read_text(encoding="utf-8")):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            found[row["sample_id"]] = Explanation(row["prediction"], row.get("decoding"))
    return found


@dataclass(frozen=True)
class RunDirectory:
    path: Path

    @classmethod
    def of(cls, output_dir: Path, config: dict[str, Any], method_name: str) -> RunDirectory:
        return cls(Path(output_dir) / str(config["dataset"]) / method_name / run_config.run_id(config))

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def training_path(self) -> Path:
        return self.model_dir / TRAINING_FILE

    @property
    def predictions_dir(self) -> Path:
        return self.path / "predictions"

    @property
    def samples_path(self) -> Path:
        return self.path / "samples.jsonl"

    @property
    def result_path(self) -> Path:
        return self.path / RESULT_FILE

    @property
    def scratch_dir(self) -> Path:
        return self.path / "scratch"

    def shard_file(self, shard: tuple[int, int] | None) -> Path:
        """The predictions file this shard appends to (``all.jsonl`` for an unsharded run)."""
        name = "all" if shard is None else f"shard-{shard[0]}-of-{shard[1]}"
        return self.predictions_dir / f"{name}.jsonl"

    def lock(self, *, wait: bool = False) -> AbstractContextManager[None]:
        return run_lock(self.path, wait=wait)

    def completed_result(self) -> RunResult | None:
        """The result of a run that finished here, else None (a broken result.json is a UserError)."""
        if not self.result_path.is_file():
            return None
        result = RunResult.from_disk(self.result_path)
        return result if result.complete else None

    def saved_training(self) -> dict[str, Any] | None:
        """The training report of the model saved here, or None when none is saved yet."""
        if not self.training_path.is_file():
            return None
        return json.loads(self.training_path.read_text(encoding="utf-8"))

    def predictions(self) -> dict[str, Explanation]:
        return read_predictions(self.predictions_dir)

    def start(self, config: dict[str, Any]) -> None:
        """Create the directory and record the resolved config."""
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config_path, run_config.dump(config))

    def discard(self) -> None:
        """--overwrite: move the run away in one rename (result.json and samples.jsonl go together), then delete it."""
        if not self.path.exists():
            return
        discarded = self.path.with_name(f".{self.path.name}.discarded-{os.getpid()}")
        shutil.rmtree(discarded, ignore_errors=True)
        self.path.rename(discarded)
        fsync_directory(self.path.parent)
        (discarded / RESULT_FILE).unlink(missing_ok=True)
        shutil.rmtree(discarded, ignore_errors=True)
