"""The NRT network without its rating branch (XRec data have no ratings).

h0 = tanh(W[u; i]) of a 1-layer GRU (lileipisces/NRT module.py, without the rating one-hot).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from xrec_bench.errors import UserError
from xrec_bench.methods.wordlevel.recurrent import RecurrentDecoder


class NRTNetwork(RecurrentDecoder):
    def __init__(self, num_users: int, num_items: int, num_words: int, emsize: int = 300, nhid: int = 400,
                 text_reg: float = 1.0, l2_reg: float = 0.0):
        super().__init__()
        self.text_reg, self.l2_reg = text_reg, l2_reg
        self.user_embeddings = nn.Embedding(num_users, emsize)
        self.item_embeddings = nn.Embedding(num_items, emsize)
        self.encoder = nn.Linear(2 * emsize, nhid)
        self.word_embeddings = nn.Embedding(num_words, emsize)
        self.rnn = nn.GRU(emsize, nhid, batch_first=True)
        self.hidden2token = nn.Linear(nhid, num_words)
        for module in (self.user_embeddings, self.item_embeddings, self.word_embeddings, self.encoder,
                       self.hidden2token):
            nn.init.uniform_(module.weight, -0.1, 0.1)
        nn.init.zeros_(self.encoder.bias)
        nn.init.zeros_(self.hidden2token.bias)

    def start(self, users: torch.Tensor, items: torch.Tensor):
        attributes = torch.cat([self.user_embeddings(users), self.item_embeddings(items)], dim=-1)
        return torch.tanh(self.encoder(attributes))[None]

    def losses(self, users: torch.Tensor, items: torch.Tensor, sequences: torch.Tensor) -> dict:
        out = super().losses(users, items, sequences)
        objective = self.text_reg * out["objective"]
        if self.l2_reg:
            objective = objective + self.l2_reg * sum((p ** 2).sum() for p in self.parameters())
        return {**out, "objective": objective}


def build_model(config: dict[str, Any], num_users: int, num_items: int, num_words: int) -> NRTNetwork:
    if config["rating_reg"]:
        raise UserError("NRT's rating branch needs ratings, which XRec data lacks; set method.rating_reg=0.")
    return NRTNetwork(num_users, num_items, num_words, config["emsize"], config["nhid"], config["text_reg"],
                      config["l2_reg"])


def build_optimizer(model: nn.Module, config: dict[str, Any]):
    return torch.optim.Adam(model.parameters(), lr=config["lr"]), None
