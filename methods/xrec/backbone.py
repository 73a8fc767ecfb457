"""The frozen LLM: loading, the XRec special tokens, freezing, and optional LoRA (peft)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from benchmark.errors import UserError
from methods.xrec.prompting import SPECIAL_TOKENS


@dataclass
class Backbone:
    model: nn.Module
    tokenizer: Any
    user_token_id: int
    item_token_id: int
    explain_token_id: int

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def special_ids(self) -> list[int]:
        return [self.user_token_id, self.item_token_id, self.explain_token_id]


def add_special_tokens(model: nn.Module, tokenizer: Any) -> None:
    """Add XRec's tokens (and a pad token where missing); new embedding rows = mean of the old ones.

    A deterministic initialisation (instead of transformers' sampled one) keeps a saved run
    reproducible without storing the backbone: the rows depend only on the backbone's weights.
    """
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    if tokenizer.pad_token is None:
        tokenizer.add_special_tokens({"pad_token": "<pad>"})
    old = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= old:
        return
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    with torch.no_grad():
        for layer in {model.get_input_embeddings(), model.get_output_embeddings()}:
            if layer is not None:
                layer.weight[old:] = layer.weight[:old].mean(0)


def freeze(model: nn.Module) -> None:
    for parameter in model.parameters():
        parameter.requires_grad = False
    model.eval()


def from_model(model: nn.Module, tokenizer: Any) -> Backbone:
    """Wrap an already built model (tests use tiny random LLaMA configs): tokens added, weights frozen."""
    add_special_tokens(model, tokenizer)
    freeze(model)
    ids = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    return Backbone(model, tokenizer, *ids)


def load_backbone(name: str, device: str = "cpu", load_in_8bit: bool = False, dtype: str = "float32") -> Backbone:
    """Load a backbone by offline name, directory or hub id (8-bit only where bitsandbytes and a GPU exist);
    the attention kernel is chosen per phase with ``use_attention``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from benchmark.models import hub_reachable_hint, resolve

    location = resolve(name)
    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
    if load_in_8bit and torch.cuda.is_available():
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig

            kwargs = {"quantization_config": BitsAndBytesConfig(load_in_8bit=True), "device_map": {"": device}}
        except ImportError:
            pass
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except OSError as exc:
        raise UserError(hub_reachable_hint(name)) from exc
    if "device_map" not in kwargs:
        model.to(device)
    return from_model(model, tokenizer)


def use_attention(backbone: Backbone, implementation: str | None) -> None:
    """Switch the attention kernel (eager | sdpa | ...) for the next phase; null leaves it as loaded."""
    if implementation and backbone.model.config._attn_implementation != implementation:
        import methods.xrec.attention  # noqa: F401 - registers eager_low_memory with transformers

        backbone.model.set_attn_implementation(implementation)


def add_lora(backbone: Backbone, cfg: dict[str, Any]) -> None:
    """Optional extension (off in the paper profile): LoRA adapters on the frozen backbone via peft."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=cfg["r"], lora_alpha=cfg["alpha"], lora_dropout=cfg["dropout"],
                        target_modules=list(cfg["target_modules"]), task_type="CAUSAL_LM")
    backbone.model = get_peft_model(backbone.model, config)
