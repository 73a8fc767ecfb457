"""Fixed-length token sequences for the word-level baselines (the official ``sentence_format``).

docs/fidelity.md, "Shared word-level parts", compares this with lileipisces' utils.py.

An explanation of at least L words becomes ``<bos> w1..wL <eos>`` (truncated to its first L words),
a shorter one ``<bos> w1..wn <eos> <pad>...``; the length is always L + 2. Decoder input is
positions 0..L, the target positions 1..L+1. L is 15 words in the ``official`` setting and 64 in
the ``xrec`` setting (the default: XRec's explanations run 30-50 words, and 64 tokens cover p99 of
the yelp-mini training explanations after punctuation splitting). Generation is capped at L words.
Only the training targets are truncated: the runner scores against the full reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xrec_bench.methods.wordlevel.tokenizer import BOS_ID, EOS_ID, PAD_ID, Vocabulary
from xrec_bench.records import Record

LENGTHS = {"official": 15, "xrec": 64}  # method.length (one of the word-level methods' choices)


def words_for(length: str) -> int:
    """The word cap L of a length setting."""
    return LENGTHS[length]


def format_ids(ids: Sequence[int], words: int) -> list[int]:
    """``<bos> w1..wL <eos>`` truncated or padded to ``words + 2`` tokens."""
    kept = list(ids[:words])
    return [BOS_ID, *kept, EOS_ID] + [PAD_ID] * (words - len(kept))


@dataclass
class EncodedSplit:
    """One split as tensors: user rows (N,), item rows (N,), token sequences (N, L+2)."""

    users: object  # torch.LongTensor
    items: object
    sequences: object

    def __len__(self) -> int:
        return int(self.users.shape[0])


def encode_split(records: Sequence[Record], vocab: Vocabulary, user_row: Callable[[int], int],
                 item_row: Callable[[int], int], words: int) -> EncodedSplit:
    import torch

    return EncodedSplit(
        torch.tensor([user_row(r.uid) for r in records], dtype=torch.long),
        torch.tensor([item_row(r.iid) for r in records], dtype=torch.long),
        torch.tensor([format_ids(vocab.encode(r.explanation or ""), words) for r in records],
                     dtype=torch.long).reshape(len(records), words + 2),
    )
