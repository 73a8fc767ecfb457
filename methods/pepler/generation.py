"""Greedy decoding for PEPLER, incremental (KV cache) or by full re-computation as the official code does.

Every sequence of a batch starts with the same three positions ``[u, i, <bos>]``, so a batch
needs no padding and no attention mask: the two paths compute the same logits, and the KV-cache
path does one position per step instead of the whole prefix.
"""

from __future__ import annotations

import contextlib

import torch
from xrec_bench.methods.pepler.model import PromptedLM


def autocast(device: str, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on the device's type when enabled (the CPU's AMX units make it about 2x faster)."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


def autocast_off(device: str) -> contextlib.AbstractContextManager:
    """Autocast disabled inside an enclosing context (whose cached weight casts survive it)."""
    return torch.autocast(device_type=torch.device(device).type, enabled=False)


@torch.no_grad()
def greedy_generate(model: PromptedLM, users: torch.Tensor, items: torch.Tensor, bos_id: int, eos_id: int,
                    max_new_tokens: int, use_cache: bool = True) -> torch.Tensor:
    """Argmax tokens after ``[u, i, <bos>]``, ``(B, n)`` with n ≤ max_new_tokens.

    Stops once every row has produced ``<eos>`` (rows that finished earlier keep going; callers
    cut each row at its first ``<eos>``, exactly as after the official fixed-length loop).
    """
    backbone = model.backbone
    embed = backbone.get_input_embeddings()
    batch = users.size(0)
    bos = torch.full((batch, 1), bos_id, dtype=torch.long, device=users.device)
    prefix = torch.cat([model.prompt_embeddings(users, items), embed(bos)], dim=1)
    generated = torch.empty((batch, 0), dtype=torch.long, device=users.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=users.device)
    past = None
    step_input = prefix
    for _ in range(max_new_tokens):
        if use_cache:
            out = backbone(inputs_embeds=step_input, past_key_values=past, use_cache=True)
            past = out.past_key_values
        else:
            out = backbone(inputs_embeds=torch.cat([prefix, embed(generated)], dim=1), use_cache=False)
        next_token = out.logits[:, -1, :].argmax(dim=-1)
        generated = torch.cat([generated, next_token[:, None]], dim=1)
        finished |= next_token == eos_id
        if bool(finished.all()):
            break
        step_input = embed(next_token[:, None])
    return generated
