"""Reading the result files a leaderboard is built from: each is checked, and a bad one is skipped with
one warning line naming it and why, so one broken or unfinished run never hides all the others.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xrec_bench.errors import UserError

SUPPORTED_SCHEMA = 1
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # dataset names become file names
METRIC_STATUSES = ("ok", "skipped")


def _metric_problem(name: str, payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return f"metric {name!r} is not an object"
    if payload.get("status") not in METRIC_STATUSES:
        return f"metric {name!r} has status {payload.get('status')!r}, not ok or skipped"
    value = payload.get("value")
    if payload["status"] == "ok" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"metric {name!r} is ok but its value {value!r} is not a number"
    if not isinstance(payload.get("config") or {}, dict):
        return f"metric {name!r} has a config that is not an object"
    return None


def result_problem(result: Any) -> str | None:
    """Why a parsed result.json cannot go on a board (schema version 1), or None if it can."""
    if not isinstance(result, dict):
        return "is not a JSON object"
    if result.get("schema_version") != SUPPORTED_SCHEMA:
        return (f"has result schema version {result.get('schema_version')!r}, but this xrec-bench reads "
                f"version {SUPPORTED_SCHEMA} (upgrade xrec-bench or re-run it)")
    if result.get("complete") is not True:
        return "is not complete (the run did not finish; resume it with the same command)"
    for key, kind in (("run_id", str), ("method", dict), ("dataset", dict), ("metrics", dict)):
        if not isinstance(result.get(key), kind):
            return f"has no {key} {'object' if kind is dict else 'string'}"
    if not isinstance(result.get("seed"), int) or isinstance(result.get("seed"), bool):
        return "has no whole-number seed"
    if not isinstance(result["method"].get("name"), str) or not isinstance(result["method"].get("config"), dict):
        return "has no method name and config"
    name = result["dataset"].get("name")
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        return f"names its dataset {name!r}, which cannot be a file name"
    for metric_name, payload in sorted(result["metrics"].items()):
        problem = _metric_problem(metric_name, payload)
        if problem:
            return f"has {problem}"
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
                          out_dir: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """Valid complete results under ``results_dir/<dataset>/<method>/<run-id>/result.json``, by dataset
    (``out_dir``, where the boards go, is not searched)."""
    results_dir = Path(results_dir)
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path, why in _strays(results_dir, out_dir) if results_dir.is_dir() else []:
        warn(f"warning: skipped {path}: it {why}.")
    for path in sorted(results_dir.glob("*/*/*/result.json")):
        if any(part.startswith(".") for part in path.relative_to(results_dir).parts):
            continue
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
            warn(f"warning: skipped {path}: it is not valid JSON ({exc.__class__.__name__}); delete that run "
                 f"directory or run it again.")
            continue
        problem = result_problem(result)
        if problem:
            warn(f"warning: skipped {path}: it {problem}.")
            continue
        by_dataset[result["dataset"]["name"]].append(result)
    if not by_dataset:
        raise UserError(f"No complete result.json under {results_dir}/<dataset>/<method>/<run-id>/; run "
                        f"`xrec-bench run` first or pass the folder of your runs with --results.")
    return dict(sorted(by_dataset.items()))
