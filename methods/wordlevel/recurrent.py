"""What Att2Seq and NRT share: a recurrent decoder over word embeddings, started from (user, item).

A subclass defines ``start(users, items) -> hidden state`` and has ``word_embeddings``, ``rnn``
(batch-first LSTM or GRU) and ``hidden2token``; this base gives the losses and both decoding paths.
The training loss projects only the non-pad target positions onto the vocabulary (``target_nll``).
"""

from __future__ import annotations

import torch
from torch import nn
from xrec_bench.methods.wordlevel.losses import target_nll
from xrec_bench.methods.wordlevel.tokenizer import PAD_ID


def cpu_has_bf16_lstm() -> bool:
    """Whether oneDNN can run an LSTM in bfloat16 on this CPU (it needs AVX-512 BF16 or AMX; on an
    AVX2-only CPU it refuses with "could not create a primitive descriptor")."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def lstm_needs_fp32(rnn: nn.Module, inputs: torch.Tensor) -> bool:
    """Under CPU bf16 autocast on a CPU without a bf16 LSTM kernel, the LSTM itself runs in fp32
    (the rest of the model stays in bf16); the training report says so."""
    return (isinstance(rnn, nn.LSTM) and inputs.device.type == "cpu" and torch.is_autocast_enabled("cpu")
            and not cpu_has_bf16_lstm())


class RecurrentDecoder(nn.Module):
    word_embeddings: nn.Embedding
    rnn: nn.RNNBase
    hidden2token: nn.Linear

    def start(self, users: torch.Tensor, items: torch.Tensor):
        raise NotImplementedError

    def hidden(self, state, tokens: torch.Tensor) -> tuple[torch.Tensor, object]:
        """RNN outputs (B, T, H) for the tokens (B, T), and the state after them."""
        embedded = self.word_embeddings(tokens)
        if lstm_needs_fp32(self.rnn, embedded):
            with torch.autocast("cpu", enabled=False):
                state = None if state is None else tuple(part.float() for part in state)
                return self.rnn(embedded.float(), state)
        return self.rnn(embedded, state)

    def run(self, state, tokens: torch.Tensor) -> tuple[torch.Tensor, object]:
        """Logits (B, T, V) for the tokens (B, T), and the state after them."""
        output, state = self.hidden(state, tokens)
        return self.hidden2token(output), state

    def losses(self, users: torch.Tensor, items: torch.Tensor, sequences: torch.Tensor) -> dict:
        output, _ = self.hidden(self.start(users, items), sequences[:, :-1])
        targets = sequences[:, 1:]
        text_nll = target_nll(self.hidden2token, output, targets)
        return {"objective": text_nll, "text_nll": text_nll.detach(),
                "text_tokens": (targets != PAD_ID).sum()}

    def step(self, state, tokens: torch.Tensor):
        logits, state = self.run(state, tokens[:, None])
        return logits[:, 0], state

    def full_logits(self, users: torch.Tensor, items: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        logits, _ = self.run(self.start(users, items), prefix)
        return logits[:, -1]
