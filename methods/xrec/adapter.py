"""Collaborative information adapters: 64-d graph embeddings → the backbone's hidden width.

``MoEAdapter`` follows XRec (a UniSRec-style mixture of parametric-whitening experts). Its
parameter names (``experts.{i}.bias``, ``experts.{i}.lin.weight``, ``w_gate``, ``w_noise``) are
the layout of the released ``user_converter.pkl`` / ``item_converter.pkl`` state dicts, so those
load directly with ``load_state_dict``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class WhiteningExpert(nn.Module):
    """Parametric whitening: (dropout(x) - b) W, with a learnable centre b and a bias-free Linear."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.bias = nn.Parameter(torch.zeros(in_dim))
        self.lin = nn.Linear(in_dim, out_dim, bias=False)
        nn.init.normal_(self.lin.weight, mean=0.0, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(self.dropout(x) - self.bias)


class MoEAdapter(nn.Module):
    """Dense softmax mixture of whitening experts; Gaussian gate noise in training mode only."""

    def __init__(self, in_dim: int, out_dim: int, num_experts: int = 8, dropout: float = 0.2,
                 noisy_gating: bool = True):
        super().__init__()
        self.noisy_gating = noisy_gating
        self.experts = nn.ModuleList(WhiteningExpert(in_dim, out_dim, dropout) for _ in range(num_experts))
        self.w_gate = nn.Parameter(torch.zeros(in_dim, num_experts))
        self.w_noise = nn.Parameter(torch.zeros(in_dim, num_experts))

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        logits = x @ self.w_gate
        if self.noisy_gating and self.training:
            noise_std = F.softplus(x @ self.w_noise) + 0.01
            logits = logits + torch.randn_like(logits) * noise_std
        return torch.softmax(logits, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expert_out = torch.stack([expert(x) for expert in self.experts], dim=-2)  # (..., E, out)
        return (self.gates(x).unsqueeze(-1) * expert_out).sum(dim=-2)


class LinearAdapter(nn.Module):
    """The ablation: one Linear layer in place of the mixture of experts."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float = 0.2):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.lin = nn.Linear(in_dim, out_dim)
        nn.init.normal_(self.lin.weight, mean=0.0, std=0.02)
        nn.init.zeros_(self.lin.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(self.dropout(x))


def build_adapter(kind: str, in_dim: int, out_dim: int, num_experts: int, dropout: float) -> nn.Module:
    if kind == "moe":
        return MoEAdapter(in_dim, out_dim, num_experts, dropout)
    if kind == "linear":
        return LinearAdapter(in_dim, out_dim, dropout)
    raise ValueError(f"unknown adapter kind {kind!r}")
