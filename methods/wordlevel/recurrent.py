"""What Att2Seq and NRT share: a recurrent decoder over word embeddings, started from (user, item).

A subclass defines ``start(users, items) -> hidden state`` and has ``word_embeddings``, ``rnn``
(batch-first LSTM or GRU) and ``hidden2token``; this base gives the losses and both decoding paths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from methods.wordlevel.tokenizer import PAD_ID


class RecurrentDecoder(nn.Module):
    word_embeddings: nn.Embedding
    rnn: nn.RNNBase
    hidden2token: nn.Linear

    def start(self, users: torch.Tensor, items: torch.Tensor):
        raise NotImplementedError

    def run(self, state, tokens: torch.Tensor) -> tuple[torch.Tensor, object]:
        """Logits (B, T, V) for the tokens (B, T), and the state after them."""
        output, state = self.rnn(self.word_embeddings(tokens), state)
        return self.hidden2token(output), state

    def losses(self, users: torch.Tensor, items: torch.Tensor, sequences: torch.Tensor) -> dict:
        logits, _ = self.run(self.start(users, items), sequences[:, :-1])
        targets = sequences[:, 1:]
        text_nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                   ignore_index=PAD_ID)
        return {"objective": text_nll, "text_nll": text_nll.detach(),
                "text_tokens": (targets != PAD_ID).sum()}

    def step(self, state, tokens: torch.Tensor):
        logits, state = self.run(state, tokens[:, None])
        return logits[:, 0], state

    def full_logits(self, users: torch.Tensor, items: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        logits, _ = self.run(self.start(users, items), prefix)
        return logits[:, -1]
