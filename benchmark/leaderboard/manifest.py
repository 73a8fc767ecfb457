"""``built-from.json`` beside the boards: the results they were built from (each run directory, the
sha256 of its result.json and of its samples file), so that ``xrec-bench leaderboard`` can refuse to
write over boards built from results it was not given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xrec_bench.errors import UserError
from xrec_bench.files import json_text, sha256_of
from xrec_bench.leaderboard.result_files import ResultOnDisk

MANIFEST_FILE = "built-from.json"
BOARD_MARKER = "index.md"  # every build writes it: its presence means boards are there


def manifest_entries(found: list[ResultOnDisk]) -> list[dict[str, Any]]:
    entries = []
    for item in found:
        samples = item.samples
        entries.append({"run": item.relative, "result_sha256": sha256_of(item.path),
                        "samples": samples.name if samples else None,
                        "samples_sha256": sha256_of(samples) if samples else None})
    return sorted(entries, key=lambda entry: entry["run"])


def manifest_text(entries: list[dict[str, Any]]) -> str:
    return json_text({"built_by": "xrec-bench leaderboard", "results": entries})


def _key(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True)


def refuse_other_results(out_dir: Path, entries: list[dict[str, Any]], results_dir: Path) -> None:
    """A UserError when ``out_dir`` holds boards built from results that are not all among ``entries``
    (a run it lists is missing from ``results_dir`` or has changed), or boards with no manifest."""
    manifest = out_dir / MANIFEST_FILE
    if not manifest.is_file():
        if (out_dir / BOARD_MARKER).is_file():
            raise UserError(f"{out_dir} already holds boards with no {MANIFEST_FILE} saying which results they "
                            f"were built from; pass --force to replace them, or choose another --out.")
        return
    try:
        previous = json.loads(manifest.read_text(encoding="utf-8"))["results"]
        old = {_key(entry) for entry in previous}
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise UserError(f"{manifest} is not a leaderboard manifest; pass --force to replace the boards in "
                        f"{out_dir}, or choose another --out.") from None
    missing = sorted(old - {_key(entry) for entry in entries})
    if missing:
        first = json.loads(missing[0])
        raise UserError(f"The boards in {out_dir} were built from other results ({len(missing)} of their "
                        f"{len(old)} runs, e.g. {first.get('run')}, are not in {results_dir} as they were); pass "
                        f"--force to replace them, or choose another --out.")
