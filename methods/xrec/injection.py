"""Collaborative-signal injection through forward hooks (no copied modelling file).

- Input injection: a hook on the input embedding layer replaces the embeddings at the
  ``<USER_EMBED>`` / ``<ITEM_EMBED>`` positions by the adapted user / item vectors.
- All-layer injection: hooks on every attention layer's ``q_proj`` / ``k_proj`` / ``v_proj``
  add the same vectors to the projections' outputs at those positions (before RoPE, as the
  official modified LLaMA attention does).

The positions are found from the token ids of the pass itself, so injection happens exactly on
the passes that process the prompt: the prompt pass with a KV cache (later cached steps feed only
new tokens, and generation suppresses the special tokens), or every pass without a cache (each
recomputes the prompt). That makes cached and uncached generation identical.

Grouped-query attention: when the key/value width (n_kv_heads x head_dim) is smaller than the
query width, the vector added to K and V is the per-group MEAN of its query-head slices: K/V head
j serves query heads j*r .. j*r+r-1 (r = n_heads / n_kv_heads), and mean-pooling those heads is how
the GQA paper (Ainslie et al., 2023) converts multi-head K/V projections into grouped ones. Since
the injection is additive, this equals injecting into a multi-head model and then converting it to
GQA by that recipe; with n_kv_heads == n_heads it is exactly XRec's injection. No extra parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from xrec_bench.methods.xrec import INJECTIONS

MODES = INJECTIONS  # method.injection, declared with XRec's settings


def attention_projections(model: nn.Module) -> list[tuple[nn.Module, nn.Module, nn.Module]]:
    """(q_proj, k_proj, v_proj) of every attention module, in layer order."""
    found = []
    for module in model.modules():
        if all(hasattr(module, name) for name in ("q_proj", "k_proj", "v_proj")):
            found.append((module.q_proj, module.k_proj, module.v_proj))
    return found


def grouped_mean(vectors: torch.Tensor, num_heads: int, num_kv_heads: int) -> torch.Tensor:
    """(B, n_heads*d) → (B, n_kv_heads*d): the mean over each K/V group's query-head slices."""
    if num_heads == num_kv_heads:
        return vectors
    batch, width = vectors.shape
    head_dim = width // num_heads
    return vectors.view(batch, num_kv_heads, num_heads // num_kv_heads, head_dim).mean(2).reshape(batch, -1)


class CollaborativeInjector:
    """Installs the hooks once; ``with injector.inject(user_vecs, item_vecs):`` arms them for a batch."""

    def __init__(self, model: nn.Module, user_token_id: int, item_token_id: int, mode: str = "all-layers"):
        if mode not in MODES:
            raise ValueError(f"unknown injection mode {mode!r}; choose one of {MODES}")
        config = model.config
        self.mode = mode
        self.user_token_id, self.item_token_id = user_token_id, item_token_id
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = getattr(config, "num_key_value_heads", None) or self.num_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.num_heads
        if self.num_heads * head_dim != config.hidden_size:
            raise ValueError("all-layer injection needs the query width to equal the hidden size")
        self._vectors: tuple[torch.Tensor, torch.Tensor] | None = None
        self._kv_vectors: tuple[torch.Tensor, torch.Tensor] | None = None
        self._masks: tuple[tuple[torch.Tensor, torch.Tensor], ...] | None = None
        self.handles = []
        if mode == "none":
            return
        self.handles.append(model.get_input_embeddings().register_forward_hook(self._embedding_hook))
        if mode == "all-layers":
            projections = attention_projections(model)
            if len(projections) != config.num_hidden_layers:
                raise ValueError(f"found {len(projections)} attention modules with q/k/v projections, "
                                 f"expected {config.num_hidden_layers}")
            for q_proj, k_proj, v_proj in projections:
                self.handles.append(q_proj.register_forward_hook(self._query_hook))
                self.handles.append(k_proj.register_forward_hook(self._key_value_hook))
                self.handles.append(v_proj.register_forward_hook(self._key_value_hook))

    @contextmanager
    def inject(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor) -> Iterator[None]:
        """Arm the hooks with one (hidden,) vector per batch row for users and for items."""
        self._vectors = (user_vectors, item_vectors)
        self._kv_vectors = tuple(grouped_mean(v, self.num_heads, self.num_kv_heads) for v in self._vectors)
        try:
            yield
        finally:
            self._vectors = self._kv_vectors = self._masks = None

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _embedding_hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
        self._masks = None
        if self._vectors is None:
            return None
        ids = inputs[0]
        user_at, item_at = (ids == self.user_token_id).nonzero(as_tuple=True), (ids == self.item_token_id).nonzero(
            as_tuple=True)
        if len(user_at[0]) == 0 and len(item_at[0]) == 0:
            return None  # a cached decoding step: nothing of the prompt is recomputed
        if ids.shape[0] != self._vectors[0].shape[0]:
            raise ValueError(f"batch of {ids.shape[0]} rows but {self._vectors[0].shape[0]} injected vectors")
        self._masks = (user_at, item_at)
        return self._write(output, self._vectors, accumulate=False)

    def _write(self, output: torch.Tensor, vectors: tuple[torch.Tensor, torch.Tensor], accumulate: bool) -> torch.Tensor:
        # In place at the few marked positions: full-size masked arithmetic in 90 hooks cost a third of a
        # training step. Safe for autograd: Linear and Embedding do not keep their output for backward.
        for (rows, cols), vector in zip(self._masks, vectors):
            if len(rows):
                output.index_put_((rows, cols), vector[rows].to(output.dtype), accumulate=accumulate)
        return output

    def _query_hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if self._masks is None or self._vectors is None:
            return None
        return self._write(output, self._vectors, accumulate=True)

    def _key_value_hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if self._masks is None or self._kv_vectors is None:
            return None
        return self._write(output, self._kv_vectors, accumulate=True)
