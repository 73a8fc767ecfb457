"""Result files: the result.json record, samples.jsonl, and the environment stamp (written atomically,
by ``xrec_bench.atomic_files``, whose ``atomic_write_text`` callers may import from here)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Iterable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from xrec_bench.atomic_files import atomic_write_text
from xrec_bench.plugin import MetricResult

SCHEMA_VERSION = 1
RECORDED_PACKAGES = ("xrec-bench", "torch", "transformers", "torch-geometric", "bert-score", "peft",
                     "accelerate", "numpy", "pandas", "bleurt-pytorch")


def atomic_write_json(path: Path, payload: Any) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def metric_payload(family: str, result: MetricResult) -> dict[str, Any]:
    payload = asdict(result)
    payload.pop("per_sample")
    payload["metric"] = family
    return payload


def write_samples(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows))


def decoding_summary(predictions: Iterable[str]) -> dict[str, Any] | None:
    """How decoding ended, over the predictions that say so (``Explanation.decoding``); None if none do."""
    found = [p.decoding for p in predictions if getattr(p, "decoding", None)]
    if not found:
        return None
    n = len(found)
    return {"n": n, "stopped_at_eos": sum(d.get("stop") == "eos" for d in found) / n,
            "hit_max_new_tokens": sum(d.get("stop") == "max_new_tokens" for d in found) / n,
            "mean_new_tokens": sum(d.get("new_tokens", 0) for d in found) / n}


def read_result(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _git_commit() -> str | None:
    source = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], check=False, capture_output=True,
                              text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def environment(device: str) -> dict[str, Any]:
    packages = {}
    for name in RECORDED_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    threads = None
    import sys

    if "torch" in sys.modules:
        threads = sys.modules["torch"].get_num_threads()
    return {"python": platform.python_version(), "platform": platform.platform(), "packages": packages,
            "git_commit": _git_commit(), "device": device, "threads": threads, "cpu_count": os.cpu_count()}
