"""Greedy decoding for the word-level baselines: incremental (the default) and full re-computation.

A model offers ``start(users, items) -> state``, ``step(state, tokens) -> (logits, state)`` (one new
token per row, the state carries what earlier steps computed: RNN hidden state, PETER's per-layer
keys and values) and ``full_logits(users, items, prefix) -> logits`` (the official way: re-run the
whole prefix every step). Both decoders feed ``<bos>`` first, take the argmax, stop once every row
has produced ``<eos>`` or after ``words`` tokens, and must return the same tokens.
"""

from __future__ import annotations

import torch
from xrec_bench.methods.wordlevel.tokenizer import BOS_ID, EOS_ID


def _cut_at_eos(generated: torch.Tensor) -> list[list[int]]:
    rows = []
    for row in generated.tolist():
        rows.append(row[: row.index(EOS_ID)] if EOS_ID in row else row)
    return rows


@torch.no_grad()
def greedy_incremental(model, users: torch.Tensor, items: torch.Tensor, words: int) -> list[list[int]]:
    """Token ids per row (without <bos>/<eos>), carrying the model's state from step to step."""
    tokens = torch.full((users.shape[0],), BOS_ID, dtype=torch.long, device=users.device)
    finished = torch.zeros_like(tokens, dtype=torch.bool)
    state = model.start(users, items)
    generated = []
    for _ in range(words):
        logits, state = model.step(state, tokens)
        tokens = logits.argmax(dim=-1)  # (B,): no squeeze, so a batch of one keeps its batch dimension
        generated.append(tokens)
        finished |= tokens == EOS_ID
        if bool(finished.all()):
            break
    return _cut_at_eos(torch.stack(generated, dim=1))


@torch.no_grad()
def greedy_full(model, users: torch.Tensor, items: torch.Tensor, words: int) -> list[list[int]]:
    """The official decoder: re-run the model on the whole prefix at every step."""
    prefix = torch.full((users.shape[0], 1), BOS_ID, dtype=torch.long, device=users.device)
    finished = torch.zeros(users.shape[0], dtype=torch.bool, device=users.device)
    for _ in range(words):
        tokens = model.full_logits(users, items, prefix).argmax(dim=-1)
        prefix = torch.cat([prefix, tokens[:, None]], dim=1)
        finished |= tokens == EOS_ID
        if bool(finished.all()):
            break
    return _cut_at_eos(prefix[:, 1:])
