"""The frozen LLM: loading, the XRec special tokens, freezing, and optional LoRA (peft)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from xrec_bench.errors import UserError
from xrec_bench.methods.xrec.prompting import SPECIAL_TOKENS

PAD_TOKEN = "<pad>"


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

    def end_of_turn_ids(self, chat_template: bool) -> list[int]:
        """The ids that end the model's turn: the generation config's eos (``</s>`` for LLaMA-2), and with
        ``chat_template`` also the first special token the template writes after an assistant message
        (``<|im_end|>`` for SmolLM2). ``tokenizer.eos_token`` is not used: converted tokenizers get it
        wrong (SmolLM2's GGUF conversion says ``<|im_start|>``)."""
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids = [eos] if isinstance(eos, int) else list(eos or [])
        if chat_template:
            ids += template_end_of_turn(self.tokenizer)
        found = list(dict.fromkeys(i for i in ids if i is not None))
        if not found:
            raise UserError("The backbone names no end-of-turn token (generation_config.eos_token_id is empty "
                            "and the chat template ends no turn with a special token); generation could "
                            "not stop.")
        return found


def template_end_of_turn(tokenizer: Any) -> list[int]:
    """The first special token that the chat template writes after an assistant message's content."""
    marker = "XRECBENCHEND"
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hello"},
                                          {"role": "assistant", "content": marker}], tokenize=False)
    tail = tokenizer(text[text.rindex(marker) + len(marker):], add_special_tokens=False)["input_ids"]
    special = set(tokenizer.all_special_ids) | {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    return [next(i for i in tail if i in special)] if any(i in special for i in tail) else []


def add_special_tokens(model: nn.Module, tokenizer: Any, init: str = "mean") -> None:
    """Add XRec's tokens and a pad token of its own; new embedding rows = mean of the old ones, or
    (``init="normal"``) N(0, initializer_range) from a generator seeded with 0, as transformers'
    ``resize_token_embeddings`` initialised them in XRec's version.

    The pad token is always the new ``<pad>``, as in XRec's ``Explainer``: a pad that shares its id
    with a real token (converted SmolLM2 tokenizers set pad = bos = ``<|im_start|>``) makes padding
    indistinguishable from text. A deterministic initialisation (instead of transformers' sampled one)
    keeps a saved run reproducible without storing the backbone: the rows depend only on the
    backbone's weights.
    """
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS), "pad_token": PAD_TOKEN})
    old = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) <= old:
        return
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    generator = torch.Generator().manual_seed(0)
    std = getattr(model.config, "initializer_range", 0.02)
    with torch.no_grad():
        inputs, outputs = model.get_input_embeddings(), model.get_output_embeddings()
        for layer in [inputs] + ([outputs] if outputs is not None and outputs is not inputs else []):
            rows = layer.weight[old:]
            if init == "normal":
                rows.copy_(torch.randn(rows.shape, generator=generator) * std)
            else:
                rows.copy_(layer.weight[:old].mean(0).expand_as(rows))


def freeze(model: nn.Module) -> None:
    for parameter in model.parameters():
        parameter.requires_grad = False
    model.eval()


def from_model(model: nn.Module, tokenizer: Any, new_token_init: str = "mean") -> Backbone:
    """Wrap an already built model (tests use tiny random LLaMA configs): tokens added, weights frozen."""
    add_special_tokens(model, tokenizer, new_token_init)
    freeze(model)
    ids = tokenizer.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    return Backbone(model, tokenizer, *ids)


def load_backbone(name: str, device: str = "cpu", load_in_8bit: bool = False, dtype: str = "float32",
                  new_token_init: str = "mean") -> Backbone:
    """Load a backbone by offline name, directory or hub id (8-bit only where bitsandbytes and a GPU exist);
    the attention kernel is chosen per phase with ``use_attention``."""
    from xrec_bench.causal_lm import load_causal_lm

    model, tokenizer = load_causal_lm(name, dtype=dtype, device=device, load_in_8bit=load_in_8bit)
    return from_model(model, tokenizer, new_token_init)


def use_attention(backbone: Backbone, implementation: str | None) -> None:
    """Switch the attention kernel (eager | sdpa | ...) for the next phase; null leaves it as loaded."""
    if implementation and backbone.model.config._attn_implementation != implementation:
        import xrec_bench.methods.xrec.attention  # noqa: F401 - registers eager_grouped, eager_low_memory

        backbone.model.set_attn_implementation(implementation)


def add_lora(backbone: Backbone, cfg: dict[str, Any]) -> None:
    """Optional extension (off in the paper profile): LoRA adapters on the frozen backbone via peft."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=cfg["r"], lora_alpha=cfg["alpha"], lora_dropout=cfg["dropout"],
                        target_modules=list(cfg["target_modules"]), task_type="CAUSAL_LM")
    backbone.model = get_peft_model(backbone.model, config)
