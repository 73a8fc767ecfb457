"""Reading the result files a leaderboard is built from: each is checked, and a bad one is skipped with
one warning line naming it and why, so one broken or unfinished run never hides all the others.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xrec_bench.errors import UserError
from xrec_bench.results import RESULT_FILE, ResultFileError, RunResult
from xrec_bench.sample_files import samples_file

SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # dataset names become file names


@dataclass(frozen=True)
class ResultOnDisk:
    """A complete result and where it lies: ``path`` is its result.json, ``relative`` that path's run
    directory relative to the results directory (``<dataset>/<method>/<run-id>``)."""

    result: RunResult
    path: Path
    relative: str

    @property
    def samples(self) -> Path | None:
        """The run's samples.jsonl or samples.jsonl.gz, if it kept one."""
        return samples_file(self.path.parent)


def board_problem(result: RunResult) -> str | None:
    """Why a readable result cannot go on a board, or None if it can."""
    if not result.complete:
        return "is not complete (the run did not finish; resume it with the same command)"
    name = result.dataset["name"]
    if not SAFE_NAME.fullmatch(name):
        return f"names its dataset {name!r}, which cannot be a file name"
    return None


def _strays(results_dir: Path, out_dir: Path | None) -> list[tuple[Path, str]]:
    """Files and run directories outside the <dataset>/<method>/<run-id>/result.json layout."""
    found = []
    for depth in ("*", "*/*", "*/*/*"):
        for path in sorted(results_dir.glob(depth)):
            if any(part.startswith(".") for part in path.relative_to(results_dir).parts):
                continue  # run locks and runs being discarded
            if out_dir is not None and (path == out_dir or out_dir in path.parents):
                continue  # the boards themselves, when they are built inside the results directory
            if path.is_file():
                found.append((path, "is not part of the <dataset>/<method>/<run-id>/result.json layout"))
            elif depth == "*/*/*" and not (path / "result.json").is_file():
                found.append((path, "has no result.json (a run in progress, or one that stopped)"))
    return found


def read_complete_results(results_dir: Path, warn: Callable[[str], None],
                          out_dir: Path | None = None) -> dict[str, list[ResultOnDisk]]:
    """Valid complete results under ``results_dir/<dataset>/<method>/<run-id>/result.json``, by dataset
    (``out_dir``, where the boards go, is not searched)."""
    results_dir = Path(results_dir)
    by_dataset: dict[str, list[ResultOnDisk]] = defaultdict(list)
    for path, why in _strays(results_dir, out_dir) if results_dir.is_dir() else []:
        warn(f"warning: skipped {path}: it {why}.")
    for path in sorted(results_dir.glob(f"*/*/*/{RESULT_FILE}")):
        if any(part.startswith(".") for part in path.relative_to(results_dir).parts):
            continue
        try:
            result = RunResult.from_disk(path)
        except ResultFileError as unreadable:
            warn(f"warning: skipped {path}: it {unreadable.problem}.")
            continue
        problem = board_problem(result)
        if problem:
            warn(f"warning: skipped {path}: it {problem}.")
            continue
        relative = path.parent.relative_to(results_dir).as_posix()
        by_dataset[result.dataset["name"]].append(ResultOnDisk(result, path, relative))
    if not by_dataset:
        raise UserError(f"No complete result.json under {results_dir}/<dataset>/<method>/<run-id>/; run "
                        f"`xrec-bench run` first or pass the folder of your runs with --results.")
    return dict(sorted(by_dataset.items()))
