"""An eager attention kernel that keeps less for backward, registered with transformers.

transformers' eager attention takes the softmax in float32 and casts the probabilities back, so a
bf16 training step keeps every layer's S x S probabilities twice for backward (4 + 2 bytes each).
``eager_low_memory`` takes the softmax in the activations' dtype (PyTorch's CPU and CUDA kernels
accumulate bf16 softmax in float32 internally), so one 2-byte copy serves both the softmax and the
value product. In float32 it is exactly the eager kernel. Selected per phase with
``training.attention`` / ``generation.attention``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask
from transformers.models.llama.modeling_llama import repeat_kv

NAME = "eager_low_memory"


def eager_low_memory(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     attention_mask: torch.Tensor | None, scaling: float, dropout: float = 0.0,
                     **_: object) -> tuple[torch.Tensor, torch.Tensor]:
    key = repeat_kv(key, module.num_key_value_groups)
    value = repeat_kv(value, module.num_key_value_groups)
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, :key.shape[-2]]
    probabilities = torch.softmax(scores, dim=-1)
    probabilities = nn.functional.dropout(probabilities, p=dropout, training=module.training)
    return torch.matmul(probabilities, value).transpose(1, 2).contiguous(), probabilities


AttentionInterface.register(NAME, eager_low_memory)
AttentionMaskInterface.register(NAME, eager_mask)  # the additive float mask the eager kernel expects
