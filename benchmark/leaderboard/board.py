"""From result files to one board per dataset: rows (method configs), columns (metric configs), cells.

A row is one (method, method config, evaluation setting); the runs of a row that differ only in
seed are averaged (first within a seed, then across seeds). A column is one (metric value, metric
config): two runs whose configs for a value differ never share a column. Everything is sorted, so
the same result files always give the same board.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xrec_bench.files import config_hash
from xrec_bench.results import RunResult

if TYPE_CHECKING:
    from xrec_bench.leaderboard.main_table import MainTable
    from xrec_bench.leaderboard.reported import ReportedRow

TAG_LIMIT = 48  # longest distinguishing tag before falling back to a short hash
KEY_LENGTH = 10  # hex digits of the config hash that keys a row or a column


def _flatten(config: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(config, dict):
        flat: dict[str, str] = {}
        for key in sorted(config, key=str):
            flat.update(_flatten(config[key], f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: json.dumps(config, sort_keys=True, default=str).strip('"')}


def distinguishing_tags(configs: dict[str, Any], *, with_keys: bool) -> dict[str, str]:
    """A short tag per config (keyed by its hash) naming the keys in which the configs differ."""
    flat = {key: _flatten(config) for key, config in configs.items()}
    keys = sorted({name for f in flat.values() for name in f})
    differing = [name for name in keys if len({f.get(name) for f in flat.values()}) > 1]
    # One key whose values alone tell the configs apart (the first in sorted order) makes the shortest tag.
    alone = [name for name in differing if len({f.get(name) for f in flat.values()}) == len(flat)]
    differing = alone[:1] or differing
    # Where naming every differing key is too long (ablation grids), a config is named by where it
    # departs from the most common value of each key; the config that departs nowhere is the "base".
    usual = {name: Counter(f.get(name, "(unset)") for f in flat.values()).most_common(1)[0][0]
             for name in differing}
    tags = {}
    for key, f in flat.items():
        parts = [(name, f.get(name, "(unset)")) for name in differing]
        if len(parts) == 1 and not with_keys:
            tag = parts[0][1]
        else:
            tag = ", ".join(f"{name.rsplit('.', 1)[-1]}={value}" for name, value in parts)
        if len(tag) > TAG_LIMIT:
            tag = ", ".join(f"{name.rsplit('.', 1)[-1]}={value}" for name, value in parts
                            if value != usual[name]) or "base"
        tags[key] = tag if 0 < len(tag) <= TAG_LIMIT else key
    if len(set(tags.values())) < len(tags):  # truncation or unset keys made two tags equal
        tags = {key: f"{tag} {key[:6]}" for key, tag in tags.items()}
    return tags


@dataclass
class Column:
    """One metric value under one metric config."""

    family: str
    value_name: str
    config: dict[str, Any]
    config_key: str
    level: str
    higher_is_better: bool | None
    header: str = ""
    decimals: int = 4
    integral: bool = True  # every value in the result files is a JSON integer (a count, such as USN)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.family, self.value_name, self.config_key

    @property
    def arrow(self) -> str:
        return {True: "↑", False: "↓"}.get(self.higher_is_better, "")  # type: ignore[arg-type]

    def format(self, number: float) -> str:
        text = f"{number:.{self.decimals}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.00"


@dataclass
class Cell:
    mean: float | None = None  # mean over seeds of each seed's value
    std: float | None = None  # per-sample std (mean over seeds): the paper's "stability"
    seeds_ok: int = 0
    seeds: int = 0
    reasons: list[str] = field(default_factory=list)
    note: int | None = None  # footnote number
    best: bool = False
    seed_std: float | None = None  # std of the seeds' values (n - 1), with two or more seeds
    ci95: tuple[float, float] | None = None  # 95% bootstrap interval of the mean over test samples
    verdict: str | None = None  # main table: "best", "tied" (not significantly worse), "worse"; None: untested


@dataclass
class Row:
    method: str
    key: str  # hash of (method version, method config, evaluation setting)
    config: dict[str, Any]
    runs: list[RunResult]
    label: str = ""
    cells: dict[tuple[str, str, str], Cell] = field(default_factory=dict)

    @property
    def run_ids(self) -> list[str]:
        return sorted(run.run_id for run in self.runs)

    @property
    def seeds(self) -> list[int]:
        return sorted({run.seed for run in self.runs})

    @property
    def n_test(self) -> int | None:
        dataset = self.runs[0].dataset
        return dataset.get("n_scored", dataset.get("splits", {}).get(dataset.get("test_split", "test")))

    @property
    def profiles(self) -> list[str]:
        return sorted({str(run.profile) for run in self.runs})


@dataclass
class Board:
    dataset: str
    rows: list[Row]
    columns: list[Column]
    notes: list[str]
    main: MainTable | None = None  # the headline table, set by main_table.build_main_table
    reported: list[ReportedRow] = field(default_factory=list)  # published numbers, never ranked

    def column(self, key: tuple[str, str, str]) -> Column:
        return next(column for column in self.columns if column.key == key)

    @property
    def families(self) -> list[str]:
        return sorted({column.family for column in self.columns})

    def columns_of(self, family: str) -> list[Column]:
        return [column for column in self.columns if column.family == family]

    def cells_in(self, column: Column) -> list[Cell]:
        """The cells of ``column``, one per row that has one (skipped or not)."""
        return [row.cells[column.key] for row in self.rows if column.key in row.cells]

    def has_value(self, column: Column) -> bool:
        """Whether some row has a value in ``column`` (not skipped for every row)."""
        return any(cell.mean is not None for cell in self.cells_in(column))

    def computed(self, family: str) -> bool:
        """Whether some row has a value of ``family`` (a family skipped for every row gets no detail table)."""
        return any(self.has_value(column) for column in self.columns_of(family))

    @property
    def detail_families(self) -> list[str]:
        """The families that get a detail table: those some row has a value of."""
        return [family for family in self.families if self.computed(family)]

    @property
    def skipped_families(self) -> dict[str, list[int]]:
        """Each family skipped for every row, with the numbers of the notes that say why."""
        return {family: sorted({cell.note for column in self.columns_of(family) for cell in self.cells_in(column)
                                if cell.note is not None})
                for family in self.families if not self.computed(family)}

    def rows_of(self, family: str) -> list[Row]:
        """The rows with at least one value of ``family``."""
        keys = {column.key for column in self.columns_of(family)}
        return [row for row in self.rows if keys & row.cells.keys()]

    @property
    def mixed_test_sets(self) -> str:
        """A warning when rows were scored on test sets of different sizes (their numbers are not comparable)."""
        sizes = sorted({row.n_test for row in self.rows if row.n_test is not None})
        if len(sizes) < 2:
            return ""
        return (f"Rows were scored on test sets of different sizes (n = {', '.join(map(str, sizes))}): compare "
                f"them with care; bold marks the best number, not a like-for-like win.")

    @property
    def run_count(self) -> int:
        return sum(len(row.runs) for row in self.rows)


def _row_identity(result: RunResult) -> dict[str, Any]:
    method, dataset = result.method, result.dataset
    setting = {key: dataset.get(key) for key in ("test_split", "splits", "n_scored", "checksums")}
    return {"method": method.get("config", {}), "version": method.get("version"), "setting": setting}


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def build_board(dataset: str, results: list[RunResult]) -> Board:
    """Group one dataset's results into rows and columns and aggregate the cells."""
    rows: dict[tuple[str, str], Row] = {}
    for result in sorted(results, key=lambda r: (r.method["name"], r.run_id)):
        identity = _row_identity(result)
        key = (result.method["name"], config_hash(identity, KEY_LENGTH))
        row = rows.setdefault(key, Row(key[0], key[1], identity, []))
        row.runs.append(result)
    ordered_rows = sorted(rows.values(), key=lambda row: (row.method, row.key))
    _label_rows(ordered_rows)
    ordered_rows.sort(key=lambda row: row.label)

    payloads: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in ordered_rows:
        for run in row.runs:
            for value_name, payload in sorted(run.metrics.items()):
                key = (payload.get("metric", value_name), value_name, config_hash(payload.get("config") or {}, KEY_LENGTH))
                payloads[key].append(payload)
    ordered_columns = [_column(key, payloads[key]) for key in sorted(payloads)]
    _name_columns(ordered_columns)
    for row in ordered_rows:
        for column in ordered_columns:
            cell = _aggregate(row, column)
            if cell is not None:
                row.cells[column.key] = cell
    for column in ordered_columns:
        _format_and_mark_best(column, ordered_rows)
    notes = _number_notes(ordered_rows, ordered_columns)
    return Board(dataset, ordered_rows, ordered_columns, notes)


def _column(key: tuple[str, str, str], payloads: list[dict[str, Any]]) -> Column:
    """Level and direction come from the first ok result (a skipped one only says what it would be)."""
    ok = [p for p in payloads if p.get("status") == "ok"]
    first = (ok or payloads)[0]
    return Column(key[0], key[1], first.get("config") or {}, key[2], first.get("level", "sample"),
                  first.get("higher_is_better", True), integral=all(isinstance(p.get("value"), int) for p in ok))


def tagged_names(items: list[tuple[Any, str, str, Any]], *, with_keys: bool) -> dict[Any, str]:
    """``name`` where a name has one config, ``name [tag]`` where it has several.

    ``items`` are (item id, name, config hash, config); the result maps each item id to its label.
    """
    by_name: dict[str, dict[str, Any]] = defaultdict(dict)
    for _, name, key, config in items:
        by_name[name][key] = config
    tags = {name: distinguishing_tags(configs, with_keys=with_keys) for name, configs in by_name.items()
            if len(configs) > 1}
    return {item: f"{name} [{tags[name][key]}]" if name in tags else name for item, name, key, _ in items}


def _label_rows(rows: list[Row]) -> None:
    identities = [((row.method, row.key), row.method, row.key,
                   {"config": row.config["method"], "version": row.config["version"], **row.config["setting"]})
                  for row in rows]
    labels = tagged_names(identities, with_keys=True)
    for row in rows:
        row.label = labels[row.method, row.key]


def _name_columns(columns: list[Column]) -> None:
    headers = tagged_names([(c.key, c.value_name, c.config_key, c.config) for c in columns], with_keys=False)
    for column in columns:
        column.header = headers[column.key]
        config = column.config if isinstance(column.config, dict) else {}
        model = config.get("model") or config.get("checkpoint")
        if column.header == column.value_name and isinstance(model, str):
            # A model-based value always names its model: MiniLM BERTScore is not roberta-large BERTScore.
            column.header = f"{column.value_name} [{model.rstrip('/').rsplit('/', 1)[-1]}]"


def _aggregate(row: Row, column: Column) -> Cell | None:
    """Mean over seeds of each seed's mean; std is the mean over seeds of the per-sample std, seed_std the
    std of the seeds' means; ci95 the interval the run recorded when there is one seed (the significance
    stage replaces it by one bootstrapped from the per-sample files where it can)."""
    per_seed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for run in row.runs:
        payload = run.metrics.get(column.value_name)
        if payload is not None and config_hash(payload.get("config") or {}, KEY_LENGTH) == column.config_key:
            per_seed[run.seed].append(payload)
    if not per_seed:
        return None
    cell = Cell(seeds=len(per_seed))
    seed_means, seed_stds = [], []
    for seed in sorted(per_seed):
        ok = [p for p in per_seed[seed] if p.get("status") == "ok" and p.get("value") is not None]
        cell.reasons.extend(p.get("reason") or "no reason given" for p in per_seed[seed] if p not in ok)
        if ok:
            seed_means.append(_mean([float(p["value"]) for p in ok]))
            stds = [float(p["std"]) for p in ok if p.get("std") is not None]
            if column.level == "sample" and stds:
                seed_stds.append(_mean(stds))
    cell.seeds_ok = len(seed_means)
    cell.reasons = sorted(set(cell.reasons))
    if seed_means:
        cell.mean = _mean(seed_means)
        cell.std = _mean(seed_stds) if seed_stds else None
        cell.seed_std = statistics.stdev(seed_means) if len(seed_means) > 1 else None
        recorded = [(p.get("extra") or {}).get("ci95") for ps in per_seed.values() for p in ps if p.get("status") == "ok"]
        if len(recorded) == 1 and isinstance(recorded[0], list) and len(recorded[0]) == 2:
            cell.ci95 = (float(recorded[0][0]), float(recorded[0][1]))
    return cell


def _format_and_mark_best(column: Column, rows: list[Row]) -> None:
    means = [row.cells[column.key].mean for row in rows
             if column.key in row.cells and row.cells[column.key].mean is not None]
    finite = [m for m in means if math.isfinite(m)]
    if finite and column.integral and all(m == int(m) and abs(m) < 1e15 for m in finite):
        column.decimals = 0
    elif finite and max(abs(m) for m in finite) >= 10:
        column.decimals = 2
    if column.higher_is_better is None or len(finite) < 2:
        return
    best = (max if column.higher_is_better else min)(finite)
    for row in rows:
        cell = row.cells.get(column.key)
        if cell is not None and cell.mean is not None and column.format(cell.mean) == column.format(best):
            cell.best = True


def _number_notes(rows: list[Row], columns: list[Column]) -> list[str]:
    notes: list[str] = []
    for row in rows:
        for column in columns:
            cell = row.cells.get(column.key)
            if cell is None or not cell.reasons:
                continue
            partial = (f" (skipped in {cell.seeds - cell.seeds_ok} of {cell.seeds} seeds; the value "
                       f"averages the others)") if cell.seeds_ok else ""
            text = f"{column.header}: {'; '.join(cell.reasons)}{partial}"
            if text not in notes:
                notes.append(text)
            cell.note = notes.index(text) + 1
    return notes
