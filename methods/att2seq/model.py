"""The Att2Seq network (lileipisces/Att2Seq module.py).

[user; item] embeddings → tanh(Linear) → h0 of every LSTM layer; c0 = 0.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from xrec_bench.methods.wordlevel.recurrent import RecurrentDecoder


class Att2SeqNetwork(RecurrentDecoder):
    def __init__(self, num_users: int, num_items: int, num_words: int, emsize: int = 64, nhid: int = 512,
                 nlayers: int = 2, dropout: float = 0.2):
        super().__init__()
        self.nlayers, self.nhid = nlayers, nhid
        self.user_embeddings = nn.Embedding(num_users, emsize)
        self.item_embeddings = nn.Embedding(num_items, emsize)
        self.encoder = nn.Linear(2 * emsize, nlayers * nhid)
        self.word_embeddings = nn.Embedding(num_words, nhid)
        self.rnn = nn.LSTM(nhid, nhid, nlayers, dropout=dropout, batch_first=True)
        self.hidden2token = nn.Linear(nhid, num_words)
        for weight in (self.user_embeddings.weight, self.item_embeddings.weight, self.encoder.weight):
            nn.init.uniform_(weight, -0.1, 0.1)
        for weight in (self.word_embeddings.weight, self.hidden2token.weight):
            nn.init.uniform_(weight, -0.08, 0.08)
        nn.init.zeros_(self.encoder.bias)
        nn.init.zeros_(self.hidden2token.bias)

    def start(self, users: torch.Tensor, items: torch.Tensor):
        attributes = torch.cat([self.user_embeddings(users), self.item_embeddings(items)], dim=-1)
        h0 = torch.tanh(self.encoder(attributes)).view(-1, self.nlayers, self.nhid).transpose(0, 1)
        h0 = h0.contiguous()
        return h0, torch.zeros_like(h0)


def build_model(config: dict[str, Any], num_users: int, num_items: int, num_words: int) -> Att2SeqNetwork:
    return Att2SeqNetwork(num_users, num_items, num_words, config["emsize"], config["nhid"],
                          config["nlayers"], config["dropout"])


def build_optimizer(model: nn.Module, config: dict[str, Any]):
    return torch.optim.Adam(model.parameters(), lr=config["lr"]), None
