"""A run's per-sample file: ``samples.jsonl`` as the run writes it, or ``samples.jsonl.gz`` where a large
one is committed compressed. Both read the same way (lines split at ``\\n`` only)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from xrec_bench.errors import UserError
from xrec_bench.line_files import split_lines

SAMPLES_FILE = "samples.jsonl"
SAMPLES_FILES = (SAMPLES_FILE, f"{SAMPLES_FILE}.gz")


def is_gzipped_jsonl(path: Path) -> bool:
    return Path(path).name.endswith(".jsonl.gz")


def samples_file(run_dir: Path) -> Path | None:
    """The run's samples.jsonl, else its samples.jsonl.gz, else None."""
    for name in SAMPLES_FILES:
        if (Path(run_dir) / name).is_file():
            return Path(run_dir) / name
    return None


def read_text(path: Path) -> str:
    """The UTF-8 text of a .jsonl / .txt file, or of a gzip-compressed .jsonl.gz one."""
    path = Path(path)
    if not is_gzipped_jsonl(path):
        return path.read_text(encoding="utf-8")
    try:
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    except (OSError, EOFError) as exc:
        raise UserError(f"{path} is not a whole gzip file ({exc.__class__.__name__}); compress it again "
                        f"with gzip.") from None


def read_sample_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a samples file (one JSON object per line, blank lines ignored)."""
    rows = []
    for number, line in enumerate(split_lines(read_text(path)), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise UserError(f"{path} line {number} is not JSON; a samples file holds one JSON object "
                            f"per line.") from None
        if not isinstance(row, dict) or "sample_id" not in row:
            raise UserError(f"{path} line {number} has no sample_id; each line of a samples file needs one.")
        rows.append(row)
    return rows
