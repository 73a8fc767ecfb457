"""Text ↔ token ids for PEPLER: ``<bos> text <eos>`` with a BPE length cap, padded batches, decoding.

The official code BPE-encodes the explanation, keeps the first ``words`` tokens, decodes and
re-encodes ``"<bos> " + text + " <eos>"`` (lileipisces/PEPLER utils.py, DataLoader.load_data and
Batchify; docs/fidelity.md, section PEPLER). Here the kept ids are used
directly (no string round trip), and the BOS the backbone's own tokenizer may prepend is not added.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch


def encode_explanation(tokenizer: Any, text: str, max_tokens: int) -> list[int]:
    """``[<bos>, first max_tokens BPE ids of text, <eos>]``."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:max_tokens]
    return [tokenizer.bos_token_id, *ids, tokenizer.eos_token_id]


def pad_right(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``(B, T)`` ids and the matching 0/1 mask, T the longest sequence of this batch."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        mask[row, : len(sequence)] = 1
    return ids, mask


def batch_order(lengths: Sequence[int], batch_size: int, generator: torch.Generator | None,
                group_by_length: bool) -> list[list[int]]:
    """Index batches of one epoch: shuffled when a generator is given, else in order.

    ``group_by_length`` sorts each window of 16 shuffled batches by length before cutting it into
    batches (then shuffles the batches), so little compute goes to padding; the loss is unchanged
    because pads carry no label.
    """
    count = len(lengths)
    order = torch.randperm(count, generator=generator).tolist() if generator is not None else list(range(count))
    if group_by_length:
        window = batch_size * 16
        order = [i for start in range(0, count, window)
                 for i in sorted(order[start:start + window], key=lambda k: lengths[k])]
    batches = [order[start:start + batch_size] for start in range(0, count, batch_size)]
    if group_by_length and generator is not None:
        batches = [batches[k] for k in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def row_slices(lengths: Sequence[int], max_rows: int | None, max_positions: int | None) -> list[slice]:
    """Consecutive slices of a batch's rows, each computed in one forward and backward pass.

    A slice is padded to its own longest row, so it holds ``rows x longest`` text positions; it
    takes rows while it stays within ``max_rows`` and ``max_positions`` (None: no limit). A row
    longer than ``max_positions`` goes alone. Slicing by positions keeps the activations of one pass
    about the same size in short and long batches: with rows grouped by length, a batch of short
    explanations goes in a few wide slices, a batch of long ones in many narrow ones.
    """
    slices, start, longest = [], 0, 0
    for row, length in enumerate(lengths):
        rows, wider = row - start + 1, max(longest, length)
        if row > start and ((max_rows and rows > max_rows) or (max_positions and rows * wider > max_positions)):
            slices.append(slice(start, row))
            start, wider = row, length
        longest = wider
    if len(lengths) > start:
        slices.append(slice(start, len(lengths)))
    return slices


def iterate_batches(users: Sequence[int], items: Sequence[int], sequences: Sequence[Sequence[int]],
                    batches: list[list[int]], pad_id: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """``(users, items, token_ids, token_mask)`` tensors for each index batch."""
    for batch in batches:
        ids, mask = pad_right([sequences[k] for k in batch], pad_id)
        yield (torch.tensor([users[k] for k in batch]), torch.tensor([items[k] for k in batch]), ids, mask)


def decode_generated(tokenizer: Any, generated: torch.Tensor) -> list[str]:
    """Each row cut at its first ``<eos>``, decoded with special tokens dropped, whitespace trimmed."""
    texts = []
    for row in generated.tolist():
        if tokenizer.eos_token_id in row:
            row = row[: row.index(tokenizer.eos_token_id)]
        texts.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    return texts
