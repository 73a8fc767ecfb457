"""Layered run configuration: package defaults → method and metric defaults → profile → user file → --set.

The resolved config is written with every result and hashed into the run id.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from xrec_bench.allocator import ALLOCATORS
from xrec_bench.devices import check_device_name
from xrec_bench.errors import UserError
from xrec_bench.files import config_hash

PROFILES = ("cpu", "paper")

# metrics.names, the families a run scores when --metrics is not given, is every registered metric
# (resolve fills it in); a metric that cannot run here is still scored, as skipped with its reason.
PACKAGE_DEFAULTS: dict[str, Any] = {
    "profile": "cpu",
    "seed": 0,
    "dataset": None,
    "limit": None,  # cap on train/valid/test records (quick runs); null = all
    "method": {},
    "metrics": {"names": None,
                # percentile-bootstrap 95% CI of every per-sample mean (extra.ci95); 0 turns it off
                "bootstrap_resamples": 1000},
    # allocator: "system" leaves glibc's defaults; "retain" keeps freed memory for reuse, faster but never
    # returned; "bounded" retains until the resident set passes memory_budget_mb (xrec_bench.allocator)
    "runtime": {"device": "cpu", "threads": None, "explain_chunk": 64, "allocator": "system",
                "memory_budget_mb": 4096},
}

# Keys that change where or how a run executes but not its numbers: kept out of the run id.
NON_SEMANTIC = ("runtime",)
RUNTIME_CHOICES = {"allocator": ALLOCATORS}


class _Loader(yaml.SafeLoader):
    """YAML with YAML 1.2 floats: ``1e-4`` is a number (PyYAML's 1.1 rules read it as a string)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.VERBOSE),
    list("-+0123456789."))


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects


def _kind(value: Any) -> str | None:
    """What an override must be to replace ``value``, in words; None for kinds that are not checked."""
    if isinstance(value, bool):
        return "true or false"
    for kind, words in (((int, float), "a number"), (str, "a string"), (list, "a list"), (dict, "a mapping")):
        if isinstance(value, kind):
            return words
    return None


def check_types(base: Any, override: Any, path: str = "") -> None:
    """An override must have its default's kind (a number for a number...); null defaults take anything."""
    if isinstance(base, dict) and isinstance(override, dict):
        for key, value in override.items():
            if key in base:
                check_types(base[key], value, f"{path}.{key}" if path else key)
        return
    if base is None or override is None:
        return
    expected = _kind(base)
    if expected is not None and _kind(override) != expected:
        raise UserError(f"{path} must be {expected} (default {base!r}), not {override!r}; "
                        f"fix it with --set {path}=...")


def check_known(base: dict[str, Any], override: dict[str, Any], path: str = "") -> None:
    """Every key of an override must exist in the layers below it, at every level of nesting."""
    for key, value in override.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in base:
            siblings = sorted(str(k) for k in base)
            close = difflib.get_close_matches(str(key), siblings, n=1)
            hint = f"did you mean {path + '.' if path else ''}{close[0]}? " if close else ""
            raise UserError(f"Unknown setting {where}; {hint}(known{' under ' + path if path else ''}: "
                            f"{', '.join(siblings) or 'none'}).")
        if isinstance(value, dict) and isinstance(base[key], dict):
            check_known(base[key], value, where)


def normalise_numbers(base: Any, override: Any) -> Any:
    """An override in its default's number type: 1 for a float setting is 1.0, 2.0 for an int setting
    is 2, so that how a number was typed never changes the run id (other values are kept as given)."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {key: normalise_numbers(base[key], value) if key in base else value
                for key, value in override.items()}
    if isinstance(base, bool) or isinstance(override, bool):
        return override
    if isinstance(base, float) and isinstance(override, int):
        return float(override)
    if isinstance(base, int) and isinstance(override, float) and override.is_integer():
        return int(override)
    return override


# Settings that count something: a whole number of at least 1 (null where it means "no cap" / "default").
WHOLE_NUMBERS = {("limit",): "null for all records", ("runtime", "explain_chunk"): None,
                 ("runtime", "memory_budget_mb"): None,
                 ("runtime", "threads"): "null for torch's default"}


def check_whole_numbers(config: dict[str, Any]) -> None:
    """Validate (and normalise 5.0 to 5) the counting settings of a resolved config, in place."""
    for keys, null_means in WHOLE_NUMBERS.items():
        parent = config
        for key in keys[:-1]:
            parent = parent[key]
        value = parent[keys[-1]]
        if value is None and null_means:
            continue
        if isinstance(value, float) and value.is_integer():
            value = parent[keys[-1]] = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            name = ".".join(keys)
            flag = f"--{name} or " if name == "limit" else ""
            raise UserError(f"{name} must be a whole number of at least 1{' (or ' + null_means + ')' if null_means else ''}"
                            f", not {value!r}; fix it with {flag}--set {name}=...")


def check_batch_sizes(base: dict[str, Any], config: dict[str, Any], path: str = "") -> None:
    """Every ``*batch_size`` setting of the method and the metrics is a whole number of at least 1 (5.0 becomes 5),
    so that a bad one is refused before training starts rather than when the metric runs."""
    for key, value in config.items():
        where = f"{path}.{key}" if path else str(key)
        default = base.get(key) if isinstance(base, dict) else None
        if isinstance(value, dict):
            check_batch_sizes(default or {}, value, where)
        elif str(key).endswith("batch_size") and not (value is None and default is None):
            if isinstance(value, float) and value.is_integer():
                value = config[key] = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{where} must be a whole number of at least 1, not {value!r}; "
                                f"fix it with --set {where}=...")


def _shown(value: Any) -> str:
    """A setting's value as it is written in YAML or --set (null, true, fp32)."""
    return value if isinstance(value, str) else json.dumps(value)


def check_choices(choices: dict[str, tuple[Any, ...]], section: dict[str, Any], where: str) -> None:
    """Every setting named in ``choices`` (a plugin's, or ``RUNTIME_CHOICES``) holds one of its allowed values.

    ``section`` is the config they apply to (``where`` names it: ``method``, ``metrics.bertscore``,
    ``runtime``). A key the section lacks is left to the defaults, which the contract tests hold to
    the choices.
    """
    for dotted, allowed in choices.items():
        value: Any = section
        for part in dotted.split("."):
            if not isinstance(value, dict) or part not in value:
                break
            value = value[part]
        else:
            if value not in allowed:
                key = f"{where}.{dotted}"
                raise UserError(f"{key} must be one of {', '.join(_shown(choice) for choice in allowed)}, "
                                f"not {value!r}; fix it with --set {key}=...")


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base`` (dicts merge, everything else replaces)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_assignment(text: str) -> dict[str, Any]:
    """``a.b.c=value`` → ``{"a": {"b": {"c": value}}}``, the value parsed as YAML (numbers, lists...)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set expects key=value (for example method.lr=1e-4), got {text!r}.")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    nested: dict[str, Any] = value
    for part in reversed(key.strip().split(".")):
        nested = {part: nested}
    return nested


def read_user_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Config file {path} does not exist; pass an existing YAML file to --config.")
    try:
        loaded = load_yaml(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"Config file {path} is not valid YAML ({exc.__class__.__name__}); fix its syntax.")
    if not isinstance(loaded, dict):
        raise UserError(f"Config file {path} must hold a mapping of keys to values at the top level.")
    return loaded


def plugin_layer(plugin: type, profile: str) -> dict[str, Any]:
    """A plugin's defaults with its profile overrides applied."""
    return merge(getattr(plugin, "defaults", {}) or {}, (getattr(plugin, "profiles", {}) or {}).get(profile, {}))


def run_id(config: dict[str, Any]) -> str:
    """seed + short hash of the resolved config (without the runtime section)."""
    semantic = {k: v for k, v in config.items() if k not in NON_SEMANTIC}
    return f"s{config['seed']}-{config_hash(semantic, 10)}"


def dump(config: dict[str, Any]) -> str:
    return yaml.safe_dump(config, sort_keys=True, allow_unicode=True)


def resolve(*, method: str | None, dataset: str, profile: str = "cpu", seed: int | None = None,
            limit: int | None = None, device: str | None = None, metric_names: list[str] | None = None,
            user_file: str | Path | None = None, assignments: list[str] = ()) -> dict[str, Any]:
    """Build the resolved config of one run from every layer.

    ``method`` None resolves the sections that scoring a predictions file uses (no method layer, so
    any method setting is an unknown key); the caller describes the file under ``method``.
    """
    from xrec_bench.registry import methods, metrics

    if profile not in PROFILES:
        raise UserError(f"Unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}.")
    flags: dict[str, Any] = {}
    if seed is not None:
        flags["seed"] = seed
    if limit is not None:
        flags["limit"] = limit
    if device is not None:
        flags["runtime"] = {"device": device}
    if metric_names is not None:
        flags["metrics"] = {"names": list(metric_names)}
    user = read_user_file(user_file) if user_file else {}
    overrides = merge(merge(user, flags), {})
    for assignment in assignments:
        overrides = merge(overrides, parse_assignment(assignment))

    method_layer = {} if method is None else {"name": method, **plugin_layer(methods.get(method), profile)}
    base = merge(PACKAGE_DEFAULTS, {"profile": profile, "dataset": dataset, "method": method_layer,
                                    "metrics": {"names": metrics.names()}})
    for key, flag, chosen in (("profile", "--profile", profile), ("dataset", "--dataset", dataset)):
        if key in overrides and overrides[key] != chosen:
            raise UserError(f"{key} is chosen with {flag} ({chosen!r}), not in a config file or --set; drop it there.")
    if method is not None and "name" in (overrides.get("method") or {}) and overrides["method"]["name"] != method:
        raise UserError(f"method.name is chosen with --method ({method!r}), not in a config file or --set; "
                        f"drop it there or pass --method {overrides['method']['name']}.")
    names = merge(base, overrides)["metrics"]["names"]
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    for name in names:
        base["metrics"][name] = plugin_layer(metrics.get(name), profile)
    # Settings of a metric family that is not scored are allowed (and checked) too.
    every_family = {entry.name: plugin_layer(entry.obj, profile) for entry in metrics.entries()}
    check_known({**base, "metrics": {**every_family, **base["metrics"]}}, overrides)
    # metrics.names may be given as a list or as one comma-separated string (handled above).
    check_types({**base, "metrics": {k: v for k, v in base["metrics"].items() if k != "names"}}, overrides)
    resolved = merge(base, normalise_numbers(base, overrides))
    resolved["metrics"]["names"] = list(names)
    check_whole_numbers(resolved)
    check_batch_sizes(base, {"method": resolved["method"], "metrics": resolved["metrics"]})
    if method is not None:
        check_choices(methods.get(method).choices, resolved["method"], "method")
    for family, section in resolved["metrics"].items():
        if family in every_family:  # a scored family's whole section, or another's --set keys
            check_choices(metrics.get(family).choices, section, f"metrics.{family}")
    check_choices(RUNTIME_CHOICES, resolved["runtime"], "runtime")
    check_device_name(resolved["runtime"]["device"])
    return resolved
