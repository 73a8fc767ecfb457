"""XRec checkpoints: adapters and graph embeddings as safetensors, settings as JSON; the released
official adapters through ``torch.load(weights_only=True)``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from xrec_bench.errors import UserError
from xrec_bench.files import atomic_write_json
from xrec_bench.methods.xrec.graph import GraphEmbeddings


def save(state: dict[str, Any], directory: Path, config: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    adapters = state["adapters"]
    tensors = {f"user.{k}": v.contiguous() for k, v in adapters.user.state_dict().items()}
    tensors.update({f"item.{k}": v.contiguous() for k, v in adapters.item.state_dict().items()})
    save_file(tensors, str(directory / "adapters.safetensors"))
    embeddings = state["embeddings"]
    save_file({"user": embeddings.user.contiguous(), "item": embeddings.item.contiguous()},
              str(directory / "graph_embeddings.safetensors"))
    model = state["backbone"].model
    if hasattr(model, "peft_config"):
        from peft import get_peft_model_state_dict

        lora = {k: v.contiguous() for k, v in get_peft_model_state_dict(model).items()}
        save_file(lora, str(directory / "lora.safetensors"))
    info = {"item_word": state["item_word"], "config": config,
            "graph_report": {k: v for k, v in embeddings.report.items() if k != "history"}}
    atomic_write_json(directory / "xrec.json", info)


def load_embeddings(directory: Path) -> GraphEmbeddings:
    tensors = load_file(str(directory / "graph_embeddings.safetensors"))
    info = json.loads((directory / "xrec.json").read_text(encoding="utf-8"))
    return GraphEmbeddings(tensors["user"], tensors["item"], info.get("graph_report", {}))


def load_weights(state: dict[str, Any], directory: Path) -> None:
    tensors = load_file(str(directory / "adapters.safetensors"))
    adapters = state["adapters"]
    for name in ("user", "item"):
        part = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
        getattr(adapters, name).load_state_dict(part)
    lora_file = directory / "lora.safetensors"
    if lora_file.is_file():
        from peft import set_peft_model_state_dict

        set_peft_model_state_dict(state["backbone"].model, load_file(str(lora_file)))


def load_official_adapters(adapters: torch.nn.Module, directory: Path) -> None:
    """Load the released ``user_converter.pkl`` / ``item_converter.pkl`` (torch state dicts of the
    MoE adapter for a 4096-wide LLaMA-2) into the user and item adapters, refusing pickled code."""
    for name in ("user", "item"):
        path = directory / f"{name}_converter.pkl"
        if not path.is_file():
            raise UserError(f"{path} does not exist; download the released XRec adapters into "
                            f"{directory} or drop method.official_adapters.")
        state = torch.load(path, map_location="cpu", weights_only=True)
        module = getattr(adapters, name)
        expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        found = {k: tuple(v.shape) for k, v in state.items()}
        if expected != found:
            raise UserError(f"{path} does not fit this adapter (its tensors {sorted(found.items())[:3]}... vs "
                            f"{sorted(expected.items())[:3]}...); the released adapters need method.adapter=moe "
                            f"and a 4096-wide LLaMA-2 backbone.")
        module.load_state_dict(state)
