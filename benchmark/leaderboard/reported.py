"""Reported rows: numbers published for these methods, shown under a board's main table with their
source, table and setting, and never ranked, bolded or tested (they were not computed here, on
these samples, with these metric models).

The file (``--reported FILE``, e.g. ``leaderboards/reported.yaml``) lists entries such as::

    reported:
      - board: yelp                  # the dataset name of the board the row goes under
        method: XRec
        source: "Ma et al. 2024, XRec (arXiv:2406.02377)"
        table: "Table 2"
        setting: "full test set, LLaMA-2-7B backbone, GPT-3.5 judge"
        values: {usr: 1.0, bertscore_f1: {mean: 0.4, std: 0.1}}   # value name -> number or {mean, std}

Only numbers read from the named source belong there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrec_bench.errors import UserError

ENTRY_KEYS = ("board", "method", "source", "table", "setting", "values")


@dataclass(frozen=True)
class ReportedValue:
    mean: float
    std: float | None = None


@dataclass(frozen=True)
class ReportedRow:
    board: str
    method: str
    source: str
    table: str
    setting: str
    values: dict[str, ReportedValue]

    @property
    def label(self) -> str:
        return f"{self.method} (reported)"

    @property
    def citation(self) -> str:
        return f"{self.source}, {self.table}; {self.setting}"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value(path: Path, where: str, name: str, raw: Any) -> ReportedValue:
    if _number(raw):
        return ReportedValue(float(raw))
    if isinstance(raw, dict) and _number(raw.get("mean")) and set(raw) <= {"mean", "std"} and (
            raw.get("std") is None or _number(raw["std"])):
        return ReportedValue(float(raw["mean"]), None if raw.get("std") is None else float(raw["std"]))
    raise UserError(f"{path}: {where} value {name!r} must be a number or {{mean: N, std: N}}, not {raw!r}.")


def read_reported(path: str | Path) -> list[ReportedRow]:
    """Every reported row of the file; a malformed file is a UserError naming the entry and the key."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} does not exist; pass a reported-numbers YAML file to --reported.")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML ({exc.__class__.__name__}); fix the file.") from None
    entries = loaded.get("reported") if isinstance(loaded, dict) else None
    if not isinstance(entries, list):
        raise UserError(f"{path} must hold a top-level 'reported:' list (it may be empty).")
    rows = []
    for number, entry in enumerate(entries, 1):
        where = f"entry {number}"
        if not isinstance(entry, dict) or set(entry) != set(ENTRY_KEYS):
            raise UserError(f"{path}: {where} must have exactly the keys {', '.join(ENTRY_KEYS)}.")
        if not all(isinstance(entry[key], str) and entry[key].strip() for key in ENTRY_KEYS[:-1]):
            raise UserError(f"{path}: {where} needs non-empty text for {', '.join(ENTRY_KEYS[:-1])}.")
        if not isinstance(entry["values"], dict) or not entry["values"]:
            raise UserError(f"{path}: {where} needs at least one value under 'values'.")
        values = {str(name): _value(path, where, str(name), raw) for name, raw in sorted(entry["values"].items())}
        rows.append(ReportedRow(entry["board"], entry["method"], entry["source"], entry["table"], entry["setting"],
                                values))
    return sorted(rows, key=lambda row: (row.board, row.method, row.source, row.table))
