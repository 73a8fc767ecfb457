"""A sweep's grid file and the run cells it expands to.

A grid names methods × datasets × seeds (× named variants), one profile, the ``--set`` overrides
every cell shares and those every cell of one method shares (``set_by_method``: a setting only
some methods have, such as ``method.precision``, whose values differ between methods). Each cell's
config is resolved by ``xrec_bench.config.resolve``, the function behind ``xrec-bench run``, so a
cell is exactly the run that command line would start.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from xrec_bench import config as run_config
from xrec_bench.errors import UserError
from xrec_bench.run_directory import RunDirectory

BASE_VARIANT = "base"  # the one variant of a grid that names none
EXECUTOR_SECTIONS = ("local", "slurm")
GRID_KEYS = ("methods", "datasets", "seeds", "profile", "set", "set_by_method", "variants", *EXECUTOR_SECTIONS)
# Keys a cell takes from the grid's own lists, never from `set` or a variant.
CHOSEN_BY_GRID = {"seed": "seeds", "dataset": "datasets", "profile": "profile"}


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: its grid coordinates and its resolved config."""

    dataset: str
    method: str
    variant: str
    seed: int
    config: dict[str, Any] = field(hash=False, compare=False)

    @property
    def run_id(self) -> str:
        return run_config.run_id(self.config)

    def run_directory(self, output_dir: Path) -> RunDirectory:
        """Where ``xrec_bench.runner.run`` writes this cell: <output-dir>/<dataset>/<method>/<run-id>."""
        return RunDirectory.of(Path(output_dir), self.config, self.method)

    @property
    def label(self) -> str:
        return f"{self.dataset} {self.method} {self.variant} seed {self.seed}"


@dataclass(frozen=True)
class Grid:
    """A parsed grid file; ``local`` and ``slurm`` are the parameters of those submitit executors."""

    path: Path
    methods: list[str]
    datasets: list[str]
    seeds: list[int]
    profile: str = "cpu"
    overrides: dict[str, Any] = field(default_factory=dict)
    overrides_by_method: dict[str, dict[str, Any]] = field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = field(default_factory=lambda: {BASE_VARIANT: {}})
    local: dict[str, Any] = field(default_factory=dict)
    slurm: dict[str, Any] = field(default_factory=dict)


def _names(path: Path, key: str, value: Any) -> list[str]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(item, str) and item for item in value)):
        raise UserError(f"Grid file {path}: {key} must be a non-empty list of names, not {value!r}.")
    if len(set(value)) < len(value):
        raise UserError(f"Grid file {path}: {key} lists a name twice ({value!r}); list each once.")
    return list(value)


def _seeds(path: Path, value: Any) -> list[int]:
    if (not isinstance(value, list) or not value
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)):
        raise UserError(f"Grid file {path}: seeds must be a non-empty list of whole numbers, not {value!r}.")
    if len(set(value)) < len(value):
        raise UserError(f"Grid file {path}: seeds lists a seed twice ({value!r}); list each once.")
    return list(value)


def _settings(path: Path, where: str, value: Any) -> dict[str, Any]:
    """A mapping of (dotted) setting names to values, as `--set` would give them."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(key, str) and key for key in value):
        raise UserError(f"Grid file {path}: {where} must be a mapping of settings to values "
                        f"(for example limit: 8), not {value!r}.")
    for key in value:
        top = key.split(".", 1)[0]
        if top in CHOSEN_BY_GRID:
            raise UserError(f"Grid file {path}: {where} sets {key}, which a grid chooses with its "
                            f"{CHOSEN_BY_GRID[top]} key; move it there.")
    return dict(value)


def _settings_by_method(path: Path, methods: list[str], value: Any) -> dict[str, dict[str, Any]]:
    """``set_by_method``: a mapping of the grid's method names to settings for that method's cells."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(name, str) and name for name in value):
        raise UserError(f"Grid file {path}: set_by_method must map method names to settings (for "
                        f"example xrec: {{method.precision: bf16-weights}}), not {value!r}.")
    for name in value:
        if name not in methods:
            raise UserError(f"Grid file {path}: set_by_method names {name}, which is not in its methods "
                            f"list ({', '.join(methods)}); add it there or drop its settings.")
    return {name: _settings(path, f"set_by_method {name}", settings) for name, settings in value.items()}


def _executor_parameters(path: Path, section: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"Grid file {path}: {section} must be a mapping of submitit parameters, not {value!r}.")
    from xrec_bench.sweep.executors import check_parameters

    check_parameters(path, section, value)
    return dict(value)


def read_grid(path: str | Path) -> Grid:
    """Parse and check a grid file; every problem is a one-sentence ``UserError``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Grid file {path} does not exist; pass an existing YAML file to `xrec-bench sweep`.")
    try:
        loaded = run_config.load_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"Grid file {path} is not valid YAML ({exc.__class__.__name__}); fix its syntax.") from None
    if not isinstance(loaded, dict):
        raise UserError(f"Grid file {path} must hold a mapping with at least methods and datasets.")
    unknown = sorted(str(key) for key in loaded if key not in GRID_KEYS)
    if unknown:
        raise UserError(f"Grid file {path} has unknown key {unknown[0]}; the known keys are {', '.join(GRID_KEYS)}.")
    for key in ("methods", "datasets"):
        if key not in loaded:
            raise UserError(f"Grid file {path} has no {key} list; add one (for example {key}: [...]).")
    profile = loaded.get("profile", "cpu")
    if profile not in run_config.PROFILES:
        raise UserError(f"Grid file {path}: profile must be one of {', '.join(run_config.PROFILES)}, "
                        f"not {profile!r}.")
    variants_value = loaded.get("variants") or {}
    if not isinstance(variants_value, dict) or not all(isinstance(name, str) and name for name in variants_value):
        raise UserError(f"Grid file {path}: variants must map names to settings (for example "
                        f"no-graph: {{method.injection: none}}), not {variants_value!r}.")
    variants = {name: _settings(path, f"variant {name}", value) for name, value in variants_value.items()}
    methods = _names(path, "methods", loaded["methods"])
    return Grid(path=path, methods=methods,
                datasets=_names(path, "datasets", loaded["datasets"]),
                seeds=_seeds(path, loaded.get("seeds", [0])), profile=profile,
                overrides=_settings(path, "set", loaded.get("set")),
                overrides_by_method=_settings_by_method(path, methods, loaded.get("set_by_method")),
                variants=variants or {BASE_VARIANT: {}},
                **{section: _executor_parameters(path, section, loaded.get(section))
                   for section in EXECUTOR_SECTIONS})


def assignments(settings: dict[str, Any]) -> list[str]:
    """Settings as the ``key=value`` strings of ``--set``, each value as text that the YAML parser of
    ``--set`` reads back as the same value (``.inf``, a date or a string such as ``'1e-4'`` as well as
    numbers, strings and lists)."""
    return [f"{key}={_value_text(key, value)}" for key, value in settings.items()]


def _value_text(key: str, value: Any) -> str:
    # YAML first (JSON has no infinity), then JSON, which is YAML too (quotes every string PyYAML's
    # YAML 1.1 dumper leaves bare although --set's YAML 1.2 floats read it as a number, such as 1e-4).
    flow = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=2**31).strip()
    for text in (flow.removesuffix("...").strip(), json.dumps(value, default=str)):
        if _same(run_config.parse_assignment(f"{key}={text}"), run_config.parse_assignment(f"{key}=x"), value):
            return text
    raise UserError(f"Setting {key}: its value {value!r} cannot be passed on as a --set value; write it as a "
                    f"number, a string, a list or a mapping.")


def _same(parsed: dict[str, Any], shape: dict[str, Any], value: Any) -> bool:
    while isinstance(shape, dict):  # down the dotted key to the value
        (part, shape), = shape.items()
        parsed = parsed[part]
    both_nan = isinstance(value, float) and isinstance(parsed, float) and math.isnan(value) and math.isnan(parsed)
    return parsed == value or both_nan


def expand_cells(grid: Grid) -> list[Cell]:
    """Every (dataset, method, variant, seed) of the grid with its resolved config, in that order.

    Unknown names and settings fail here, before anything runs; two cells that resolve to the same
    run (a variant that restates a default) are refused, since they would share one run directory.
    """
    from xrec_bench.registry import datasets

    cells: list[Cell] = []
    seen: dict[tuple[str, str, str], Cell] = {}
    for dataset in grid.datasets:
        datasets.get(dataset)  # resolve() leaves the dataset name to the runner; check it before any run
        for method in grid.methods:
            for variant, settings in grid.variants.items():
                for seed in grid.seeds:
                    config = run_config.resolve(method=method, dataset=dataset, profile=grid.profile, seed=seed,
                                                assignments=assignments(grid.overrides)
                                                + assignments(grid.overrides_by_method.get(method, {}))
                                                + assignments(settings))
                    cell = Cell(dataset=dataset, method=method, variant=variant, seed=seed, config=config)
                    key = (dataset, method, cell.run_id)
                    if key in seen:
                        raise UserError(f"Grid file {grid.path}: variants {seen[key].variant} and {variant} give "
                                        f"the same run for {dataset} {method} seed {seed}; drop one of them.")
                    seen[key] = cell
                    cells.append(cell)
    return cells
