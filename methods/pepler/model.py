"""PEPLER's continuous-prompt model: user and item prompt vectors in front of a pretrained causal LM.

The input is ``[u, i, wte(<bos>), wte(w1) .. wte(<eos>), wte(<pad>) ..]`` passed as
``inputs_embeds``; u and i are rows of two new embedding tables of the backbone's hidden size,
initialised U(-r, r) (r = 0.1 officially: UIPrompt.init_prompt in lileipisces/PEPLER module.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from xrec_bench.errors import UserError

PROMPT_LENGTH = 2  # [user, item]
# PEPLER adds these to the backbone tokenizer (GPT-2's own ids 50257..50259).
SPECIAL_TOKENS = {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"}


def use_attention(backbone: nn.Module, attention: str | None) -> None:
    """Switch transformers' attention kernel (``eager`` or ``sdpa``; None: keep the loaded one)."""
    if attention and backbone.config._attn_implementation != attention:
        backbone.set_attn_implementation(attention)


def load_backbone(name_or_dir: str, attention: str | None = None) -> tuple[nn.Module, Any]:
    """The causal LM and its tokenizer, with PEPLER's three special tokens added and the embeddings resized.

    ``attention`` picks transformers' attention kernel (``eager`` or ``sdpa``; None: as loaded).
    """
    from xrec_bench.causal_lm import load_causal_lm

    backbone, tokenizer = load_causal_lm(name_or_dir)
    use_attention(backbone, attention)
    tokenizer.add_special_tokens(SPECIAL_TOKENS)
    if backbone.get_input_embeddings().num_embeddings != len(tokenizer):
        # mean_resizing=False: new rows drawn from the backbone's initialiser, as transformers 4.18 did.
        backbone.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    return backbone, tokenizer


class PromptedLM(nn.Module):
    """A causal LM conditioned on one learned user vector and one learned item vector."""

    def __init__(self, backbone: nn.Module, num_users: int, num_items: int, init_range: float = 0.1):
        super().__init__()
        self.backbone = backbone
        hidden = backbone.get_input_embeddings().embedding_dim
        self.user_prompt = nn.Embedding(num_users, hidden)
        self.item_prompt = nn.Embedding(num_items, hidden)
        for table in (self.user_prompt, self.item_prompt):
            nn.init.uniform_(table.weight, -init_range, init_range)

    def prompt_embeddings(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.user_prompt(users), self.item_prompt(items)], dim=1)  # (B, 2, d)

    def forward(self, users: torch.Tensor, items: torch.Tensor, token_ids: torch.Tensor,
                token_mask: torch.Tensor) -> torch.Tensor:
        """Mean token-level NLL of ``token_ids`` (``<bos> text <eos> <pad>..``, right-padded) given the prompt."""
        total, count = self.nll_sum(users, items, token_ids, token_mask)
        return total / count

    def nll_sum(self, users: torch.Tensor, items: torch.Tensor, token_ids: torch.Tensor,
                token_mask: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Summed NLL of every text token and how many there are (the mean is HF's causal-LM loss).

        Position p predicts token p + 1, so (as in the official code, where HF shifts the labels) the
        item position is trained to predict ``<bos>``; the prompt and pads carry no label. Only the
        positions with a label go through the LM head: no vocabulary-sized logits for pads, and
        the same value as ``backbone(..., labels=...).loss`` times the token count.
        """
        text = self.backbone.get_input_embeddings()(token_ids)
        embeds = torch.cat([self.prompt_embeddings(users, items).to(text.dtype), text], dim=1)
        prompt_mask = token_mask.new_ones(token_mask.size(0), PROMPT_LENGTH)
        attention_mask = torch.cat([prompt_mask, token_mask], dim=1)
        hidden = self.backbone.base_model(inputs_embeds=embeds, attention_mask=attention_mask,
                                          use_cache=False).last_hidden_state
        # hidden[:, PROMPT_LENGTH - 1 + t] predicts token t (t = 0 is <bos>, predicted by the item position).
        predicting = hidden[:, PROMPT_LENGTH - 1:-1][token_mask.bool()]
        logits = self.backbone.get_output_embeddings()(predicting).float()
        count = int(token_mask.sum())
        return F.cross_entropy(logits, token_ids[token_mask.bool()], reduction="sum"), count

    def set_stage(self, stage: int, train_token_embeddings: bool) -> None:
        """Stage 1 trains the prompts (and, if asked, the token embeddings); stage 2 trains everything.

        ``train_token_embeddings`` reproduces the official run: transformers 4.18's
        ``resize_token_embeddings`` re-created ``wte`` with ``requires_grad=True`` after the freeze
        (huggingface/transformers#26861), so stage 1 also trained the token embeddings, and with
        them the tied LM head.
        """
        if stage not in (1, 2):
            raise ValueError(f"PEPLER has stages 1 and 2, not {stage}")
        for parameter in self.backbone.parameters():
            parameter.requires_grad_(stage == 2)
        if stage == 1 and train_token_embeddings:
            # resize_token_embeddings re-created both matrices; with tied weights they are one.
            self.backbone.get_input_embeddings().weight.requires_grad_(True)
            if self.backbone.get_output_embeddings() is not None:
                self.backbone.get_output_embeddings().weight.requires_grad_(True)
        for table in (self.user_prompt, self.item_prompt):
            table.weight.requires_grad_(True)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]


PROMPTS_FILE = "prompts.safetensors"
BACKBONE_DIR = "backbone"
META_FILE = "pepler.json"


def save_model(model: PromptedLM, tokenizer: Any, directory: Path, meta: dict[str, Any]) -> None:
    """Prompt tables as safetensors, the tuned backbone and tokenizer as a transformers directory, meta as JSON."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    save_file({"user_prompt": model.user_prompt.weight.detach().contiguous(),
               "item_prompt": model.item_prompt.weight.detach().contiguous()}, str(directory / PROMPTS_FILE))
    model.backbone.save_pretrained(directory / BACKBONE_DIR, safe_serialization=True)
    tokenizer.save_pretrained(directory / BACKBONE_DIR)
    (directory / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True), encoding="utf-8")


def load_model(directory: Path) -> tuple[PromptedLM, Any, dict[str, Any]]:
    """What ``save_model`` wrote: the model, its tokenizer and the meta dict."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise UserError(f"{directory} holds no saved PEPLER model ({META_FILE} is missing); fit it first.")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(directory / BACKBONE_DIR)
    backbone = AutoModelForCausalLM.from_pretrained(directory / BACKBONE_DIR, dtype=torch.float32)
    use_attention(backbone, meta.get("config", {}).get("attention"))
    prompts = load_file(str(directory / PROMPTS_FILE))
    model = PromptedLM(backbone, prompts["user_prompt"].size(0), prompts["item_prompt"].size(0))
    with torch.no_grad():
        model.user_prompt.weight.copy_(prompts["user_prompt"])
        model.item_prompt.weight.copy_(prompts["item_prompt"])
    return model, tokenizer, meta
