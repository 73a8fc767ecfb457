"""Eager attention kernels for grouped-query backbones, registered with transformers.

transformers' eager kernel first copies every key/value head once per query head that shares it
(``repeat_kv``): for SmolLM2 (9 query heads on 3 key/value heads) that triples the keys and values,
and in cached decoding it copies the whole preallocated cache in every layer at every step (40% of
the CPU time of batched bf16 decoding, measured). These kernels fold each group's query heads into
the rows of one product with their shared key/value head instead, so nothing is copied; the
products, mask and softmax are the eager kernel's.

- ``eager_grouped``: the eager kernel's numerics (softmax in float32, cast back).
- ``eager_low_memory``: the softmax in the activations' dtype. transformers' eager kernel keeps a
  bf16 step's S x S probabilities twice for backward (4 + 2 bytes each); taking the softmax in bf16
  (PyTorch's CPU and CUDA kernels accumulate it in float32 internally) keeps one 2-byte copy for
  both the softmax and the value product. In float32 the two kernels are the same.

Selected per phase with ``training.attention`` / ``generation.attention``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask

GROUPED = "eager_grouped"
LOW_MEMORY = "eager_low_memory"


def grouped_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, scaling: float, dropout: float = 0.0, *,
                      softmax_in_float32: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of query (B, H, Q, D) over key/value (B, KV, S, D), H a multiple of KV; returns the
    output (B, Q, H, D) and the probabilities (B, H, Q, S), as transformers' eager kernel does.

    Query head h uses key/value head h // (H / KV), the pairing of ``repeat_kv``.
    """
    batch, heads, q_len, dim = query.shape
    kv_heads, length = key.shape[1], key.shape[2]
    groups = heads // kv_heads
    rows = query.reshape(batch, kv_heads, groups * q_len, dim)  # a group's heads, one after another
    scores = torch.matmul(rows, key.transpose(2, 3)) * scaling  # (B, KV, G*Q, S)
    if attention_mask is not None:
        mask = attention_mask[:, :, :, :length].unsqueeze(2)  # (B, 1, 1, Q, S): the same for every head
        scores = (scores.view(batch, kv_heads, groups, q_len, length) + mask).view(batch, kv_heads, -1, length)
    if softmax_in_float32:
        probabilities = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    else:
        probabilities = torch.softmax(scores, dim=-1)
    probabilities = nn.functional.dropout(probabilities, p=dropout, training=module.training)
    output = torch.matmul(probabilities, value).view(batch, heads, q_len, dim)
    return output.transpose(1, 2).contiguous(), probabilities.view(batch, heads, q_len, length)


def eager_grouped(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                  attention_mask: torch.Tensor | None, scaling: float, dropout: float = 0.0,
                  **_: object) -> tuple[torch.Tensor, torch.Tensor]:
    return grouped_attention(module, query, key, value, attention_mask, scaling, dropout, softmax_in_float32=True)


def eager_low_memory(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, scaling: float, dropout: float = 0.0,
                     **_: object) -> tuple[torch.Tensor, torch.Tensor]:
    return grouped_attention(module, query, key, value, attention_mask, scaling, dropout, softmax_in_float32=False)


for _name, _kernel in ((GROUPED, eager_grouped), (LOW_MEMORY, eager_low_memory)):
    AttentionInterface.register(_name, _kernel)
    AttentionMaskInterface.register(_name, eager_mask)  # the additive float mask the eager kernels expect
