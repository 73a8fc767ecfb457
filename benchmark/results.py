"""The result.json record of a run: one schema (``RunResult``), its version, the upgrade of older
versions, and the provenance and environment stamps it carries.

Every reader (the runner's resume check, ``xrec-bench compare``, the leaderboard, the CLI summary)
loads result files with ``RunResult.from_disk`` and every writer writes them with ``to_disk``; a
file of an older ``schema_version`` is upgraded on reading by ``upgrade``.

Schema versions:

1. the first published layout (the committed leaderboard results);
2. adds ``started_at`` and ``environment.git_dirty``, and takes ``environment.git_commit`` when the
   run starts rather than when result.json is written (a version-1 file reads as unknown for both).
   Files written since 2026-12-02 also carry ``environment.code_tree`` and ``code_dirty``
   (``Provenance``); a file without them reads as unknown for both, which readers allow for.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from hashlib import sha256
from importlib import metadata
from pathlib import Path
from typing import Any

from xrec_bench.errors import UserError
from xrec_bench.files import atomic_write_json
from xrec_bench.hardware import cpu_description
from xrec_bench.run_code import CODE_PATHS, excluded_paths

SCHEMA_VERSION = 2
RESULT_FILE = "result.json"
RECORDED_PACKAGES = ("xrec-bench", "torch", "transformers", "torch-geometric", "bert-score", "peft",
                     "accelerate", "numpy", "pandas", "bleurt-pytorch")
METRIC_STATUSES = ("ok", "skipped")
SOURCE_TREE = Path(__file__).resolve().parent.parent  # the checkout xrec_bench is imported from


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class UnreadableResult(Exception):
    """Why a parsed result cannot be read as a run result: the message continues "it ..."."""


class ResultFileError(UserError):
    """A result file that cannot be read as a run result; ``problem`` says why, after "it"."""

    def __init__(self, path: Path, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: it {problem}.")


# --- Upgrades: each takes a result of its version and returns it one version later ---


def _from_version_1(result: dict[str, Any]) -> dict[str, Any]:
    environment = dict(result.get("environment") or {})
    environment.setdefault("git_dirty", None)  # not recorded: unknown
    return {**result, "schema_version": 2, "environment": environment, "started_at": None}


UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_version_1}


def upgrade(result: dict[str, Any]) -> dict[str, Any]:
    """A parsed result.json of any version this xrec-bench knows, as the current ``SCHEMA_VERSION``;
    raises ``UnreadableResult`` for a version it does not know."""
    version = result.get("schema_version")
    while version != SCHEMA_VERSION:
        if isinstance(version, bool) or version not in UPGRADES:
            raise UnreadableResult(f"has result schema version {version!r}, but this xrec-bench reads versions "
                             f"{min(UPGRADES)} to {SCHEMA_VERSION} (upgrade xrec-bench or re-run it)")
        result = UPGRADES[version](result)
        version = result["schema_version"]
    return result


# --- Provenance and environment ---


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(SOURCE_TREE), *args], check=False, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _code_listing(excluded: tuple[str, ...]) -> str | None:
    """The git tree entries of ``CODE_PATHS`` at HEAD, one level inside each folder, less ``excluded``."""
    listing = _git("ls-tree", "HEAD", "--", *(path if path.endswith(".toml") else f"{path}/" for path in CODE_PATHS))
    if not listing:
        return None
    return "".join(line + "\n" for line in listing.splitlines() if line.split("\t", 1)[-1] not in excluded)


@dataclass(frozen=True)
class Provenance:
    """The code a run is computed by, taken when it starts: edits made while it runs change nothing.

    ``git_commit`` is HEAD of the source tree and ``git_dirty`` whether tracked files had uncommitted
    changes; ``code_tree`` names the content of the run's code at HEAD (``xrec_bench.run_code``: the
    package source less what no run imports and less the other methods' packages; a digest of their
    git tree entries), and ``code_dirty`` whether those paths had uncommitted changes or untracked
    files. All are None outside a git checkout; a result written before ``code_tree`` was recorded
    has None there.
    """

    git_commit: str | None
    git_dirty: bool | None
    started_at: str
    code_tree: str | None = None
    code_dirty: bool | None = None

    @classmethod
    def now(cls, method_module: str | None = None) -> Provenance:
        """The code now of a run of the method class defined in ``method_module`` (None: of any method)."""
        head = (_git("rev-parse", "HEAD") or "").strip() or None
        status = _git("status", "--porcelain", "--untracked-files=no") if head else None
        excluded = excluded_paths(SOURCE_TREE, method_module) if head else ()
        trees = _code_listing(excluded) if head else None
        code_status = _git("status", "--porcelain", "--untracked-files=normal", "--", *CODE_PATHS,
                           *(f":(exclude){path}" for path in excluded)) if head else None
        return cls(head, None if status is None else bool(status.strip()), utc_now(),
                   None if trees is None else sha256(trees.encode()).hexdigest()[:20],
                   None if code_status is None else bool(code_status.strip()))


def environment(device: str, provenance: Provenance) -> dict[str, Any]:
    packages = {}
    for name in RECORDED_PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    return {"python": platform.python_version(), "platform": platform.platform(), "packages": packages,
            "git_commit": provenance.git_commit, "git_dirty": provenance.git_dirty,
            "code_tree": provenance.code_tree, "code_dirty": provenance.code_dirty, "device": device,
            "threads": threads, "cpu_count": os.cpu_count(), **cpu_description()}


# --- The record ---


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


def _problem(result: dict[str, Any]) -> str | None:
    """Why a current-version result cannot be read, or None."""
    if not isinstance(result.get("complete"), bool):
        return "has no complete flag (true or false)"
    for key, kind in (("run_id", str), ("method", dict), ("dataset", dict), ("metrics", dict)):
        if not isinstance(result.get(key), kind):
            return f"has no {key} {'object' if kind is dict else 'string'}"
    if not isinstance(result.get("seed"), int) or isinstance(result.get("seed"), bool):
        return "has no whole-number seed"
    if not isinstance(result["method"].get("name"), str) or not isinstance(result["method"].get("config"), dict):
        return "has no method name and config"
    if not isinstance(result["dataset"].get("name"), str):
        return "has no dataset name"
    for key in ("environment", "timings_s", "peak_memory_mb"):
        if not isinstance(result.get(key) or {}, dict):
            return f"has a {key} that is not an object"
    for metric_name, payload in sorted(result["metrics"].items()):
        problem = _metric_problem(metric_name, payload)
        if problem:
            return f"has {problem}"
    return None


@dataclass
class RunResult:
    """What one run computed and how: result.json, written last, so its presence means the run is done.

    ``method`` holds name, version, config (and ``generation``, how decoding ended, where the method
    said so); ``dataset`` holds name, test_split, n_scored, splits (and checksums, card_note,
    released_predictions for a registered dataset); ``metrics`` maps each value name to its payload
    (``metric_payload``).
    """

    run_id: str
    profile: str | None
    seed: int
    method: dict[str, Any]
    dataset: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    training: dict[str, Any] | None
    environment: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: dict[str, float] = field(default_factory=dict)
    started_at: str | None = None
    created_at: str | None = None
    complete: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}

    def to_disk(self, run_dir: Path) -> Path:
        """Write ``<run_dir>/result.json`` atomically; return its path."""
        path = Path(run_dir) / RESULT_FILE
        atomic_write_json(path, self.to_dict())
        return path

    @classmethod
    def from_dict(cls, result: Any) -> RunResult:
        """A parsed result.json of any known version; ``UnreadableResult`` says why not otherwise."""
        if not isinstance(result, dict):
            raise UnreadableResult("is not a JSON object")
        result = upgrade(result)
        problem = _problem(result)
        if problem:
            raise UnreadableResult(problem)
        return cls(run_id=result["run_id"], profile=result.get("profile"), seed=result["seed"],
                   method=result["method"], dataset=result["dataset"], metrics=result["metrics"],
                   training=result.get("training"), environment=result.get("environment") or {},
                   timings_s=result.get("timings_s") or {}, peak_memory_mb=result.get("peak_memory_mb") or {},
                   started_at=result.get("started_at"), created_at=result.get("created_at"),
                   complete=result["complete"])

    @classmethod
    def from_disk(cls, path: Path) -> RunResult:
        """Read a run directory's result.json (or the file itself); ``ResultFileError`` names what is wrong."""
        path = Path(path)
        if path.is_dir():
            path = path / RESULT_FILE
        if not path.is_file():
            raise ResultFileError(path, "does not exist (pass the directory of a finished run)")
        try:
            parsed = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
            raise ResultFileError(path, f"is not valid JSON ({exc.__class__.__name__}); delete that run "
                                        f"directory or run it again") from None
        try:
            return cls.from_dict(parsed)
        except UnreadableResult as problem:
            raise ResultFileError(path, str(problem)) from None
