"""The PETER network (lileipisces/PETER module.py): a post-LN Transformer encoder over [u, i, <bos>, w1, ...].

The attention layers are written out (rather than nn.MultiheadAttention) so that decoding can keep
each layer's keys and values. That is exact for PETER: under its mask a position sees only itself
and earlier positions (the user also sees the item, which is there from the start), so appending a
token never changes what earlier positions computed.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from xrec_bench.errors import UserError
from xrec_bench.methods.wordlevel.losses import target_nll
from xrec_bench.methods.wordlevel.tokenizer import PAD_ID

SOURCE_LENGTH = 2  # [user, item]; PETER+ would add the feature word, which XRec data lacks


class PeterLayer(nn.Module):
    """A post-LN encoder layer (self-attention, ReLU FFN, dropout) with an optional key/value cache."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.nhead, self.dropout_p = nhead, dropout
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout, self.dropout1, self.dropout2 = (nn.Dropout(dropout) for _ in range(3))
        # nn.MultiheadAttention's initialisation, which the official model uses.
        nn.init.xavier_uniform_(self.in_proj.weight)
        nn.init.zeros_(self.in_proj.bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        """``x`` (B, T, d); ``allowed`` (B, 1, T, S) True where a query may attend to a key.

        With ``cache``, ``x`` holds only the new positions: their keys and values are appended to the
        cached ones, and S counts cached plus new positions.
        """
        batch, length, d_model = x.shape
        q, k, v = self.in_proj(x).view(batch, length, 3, self.nhead, -1).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                                  dropout_p=self.dropout_p if self.training else 0.0)
        attended = self.out_proj(attended.transpose(1, 2).reshape(batch, length, d_model))
        x = self.norm1(x + self.dropout1(attended))
        return self.norm2(x + self.dropout2(self.linear2(self.dropout(F.relu(self.linear1(x))))))


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    position = torch.arange(length, dtype=torch.float).unsqueeze(1)
    scale = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * scale)
    table[:, 1::2] = torch.cos(position * scale)
    return table


def attention_allowed(length: int, peter_mask: bool, device: torch.device) -> torch.Tensor:
    """(T, T) True where query i may attend to key j: causal, and with the PETER mask u also sees i."""
    allowed = torch.ones(length, length, dtype=torch.bool, device=device).tril()
    if peter_mask:
        allowed[0, 1] = True
    return allowed


class PeterNetwork(nn.Module):
    def __init__(self, num_users: int, num_items: int, num_words: int, emsize: int = 512, nhead: int = 2,
                 nhid: int = 2048, nlayers: int = 2, dropout: float = 0.2, peter_mask: bool = True,
                 text_reg: float = 1.0, context_reg: float = 1.0, max_length: int = 512,
                 layer_init: str = "official-copies"):
        super().__init__()
        self.emsize, self.peter_mask = emsize, peter_mask
        self.text_reg, self.context_reg = text_reg, context_reg
        self.user_embeddings = nn.Embedding(num_users, emsize)
        self.item_embeddings = nn.Embedding(num_items, emsize)
        self.word_embeddings = nn.Embedding(num_words, emsize)
        self.register_buffer("positions", sinusoidal_positions(max_length, emsize), persistent=False)
        self.embedding_dropout = nn.Dropout(dropout)
        if layer_init == "official-copies":  # one of xrec_bench.methods.peter.LAYER_INITS
            layer = PeterLayer(emsize, nhead, nhid, dropout)
            self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(nlayers))
        else:
            self.layers = nn.ModuleList(PeterLayer(emsize, nhead, nhid, dropout) for _ in range(nlayers))
        self.hidden2token = nn.Linear(emsize, num_words)
        for module in (self.user_embeddings, self.item_embeddings, self.word_embeddings, self.hidden2token):
            nn.init.uniform_(module.weight, -0.1, 0.1)
        nn.init.zeros_(self.hidden2token.bias)

    def _embed(self, embedded: torch.Tensor, first_position: int) -> torch.Tensor:
        positions = self.positions[first_position:first_position + embedded.shape[1]]
        return self.embedding_dropout(embedded * math.sqrt(self.emsize) + positions)

    def encode(self, users: torch.Tensor, items: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, 2 + T, d) of [u, i, text] under the PETER mask, pads of the text masked as keys."""
        embedded = torch.cat([self.user_embeddings(users)[:, None], self.item_embeddings(items)[:, None],
                              self.word_embeddings(text)], dim=1)
        x = self._embed(embedded, 0)
        length = x.shape[1]
        source = torch.ones(text.shape[0], SOURCE_LENGTH, dtype=torch.bool, device=text.device)
        keys = torch.cat([source, text != PAD_ID], dim=1)
        allowed = attention_allowed(length, self.peter_mask, x.device)[None, None] & keys[:, None, None, :]
        for layer in self.layers:
            x = layer(x, allowed)
        return x

    def losses(self, users: torch.Tensor, items: torch.Tensor, sequences: torch.Tensor) -> dict:
        hidden = self.encode(users, items, sequences[:, :-1])
        targets = sequences[:, 1:]
        text_nll = target_nll(self.hidden2token, hidden[:, SOURCE_LENGTH:], targets)
        # Context prediction: the item position's one distribution scores every word after <bos>
        # (w1..wL, <eos> included when the sentence is shorter than L; pads ignored).
        context = F.log_softmax(self.hidden2token(hidden[:, 1]), dim=-1)
        words = sequences[:, 1:-1]
        mask = words != PAD_ID
        context_nll = -(context.gather(1, words) * mask).sum() / mask.sum().clamp(min=1)
        objective = self.text_reg * text_nll + self.context_reg * context_nll
        return {"objective": objective, "text_nll": text_nll.detach(), "context_nll": context_nll.detach(),
                "text_tokens": (targets != PAD_ID).sum()}

    def full_logits(self, users: torch.Tensor, items: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        return self.hidden2token(self.encode(users, items, prefix)[:, -1])

    def start(self, users: torch.Tensor, items: torch.Tensor) -> dict:
        """Run [u, i] through every layer once and keep each layer's keys and values."""
        x = self._embed(torch.stack([self.user_embeddings(users), self.item_embeddings(items)], dim=1), 0)
        allowed = attention_allowed(SOURCE_LENGTH, self.peter_mask, x.device)[None, None]
        caches = [{} for _ in self.layers]
        for layer, cache in zip(self.layers, caches):
            x = layer(x, allowed, cache)
        keys = torch.ones(users.shape[0], SOURCE_LENGTH, dtype=torch.bool, device=users.device)
        return {"caches": caches, "keys": keys}

    def step(self, state: dict, tokens: torch.Tensor):
        """One new token per row attends to all cached positions (pads generated earlier stay masked)."""
        keys = torch.cat([state["keys"], (tokens != PAD_ID)[:, None]], dim=1)
        x = self._embed(self.word_embeddings(tokens)[:, None], keys.shape[1] - 1)
        allowed = keys[:, None, None, :]
        for layer, cache in zip(self.layers, state["caches"]):
            x = layer(x, allowed, cache)
        return self.hidden2token(x[:, 0]), {"caches": state["caches"], "keys": keys}


def build_model(config: dict[str, Any], num_users: int, num_items: int, num_words: int) -> PeterNetwork:
    if config["rating_reg"]:
        raise UserError("PETER's rating head needs ratings, which XRec data lacks; set method.rating_reg=0.")
    # Models saved before layer_init existed were trained with independent layers; loading overwrites
    # the initial weights either way.
    return PeterNetwork(num_users, num_items, num_words, config["emsize"], config["nhead"], config["nhid"],
                        config["nlayers"], config["dropout"], config["peter_mask"], config["text_reg"],
                        config["context_reg"], layer_init=config.get("layer_init", "independent"))


def build_optimizer(model: nn.Module, config: dict[str, Any]):
    """Plain SGD; StepLR(γ=lr_decay) stepped only after non-improving epochs (the official schedule)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=config["lr_decay"])
    return optimizer, lambda epoch: scheduler.step()
