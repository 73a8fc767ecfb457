"""The text loss the word-level baselines train on, computed only where it is defined (non-pad targets)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from xrec_bench.methods.wordlevel.tokenizer import PAD_ID


def target_nll(hidden2token: nn.Linear, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean NLL over the non-pad targets (B, T) of the states (B, T, H), projecting only those states.

    The same value as ``cross_entropy(hidden2token(hidden), targets, ignore_index=PAD_ID)``: pads add
    nothing to it, so their vocabulary-sized logits (a third of a yelp-mini batch) are never computed.
    """
    kept = targets != PAD_ID
    return F.cross_entropy(hidden2token(hidden[kept]), targets[kept])
