"""Att2Seq's LSTM under bf16 autocast on a CPU without a bf16 LSTM kernel (AVX2-only): it runs in fp32
instead of failing with oneDNN's "could not create a primitive descriptor"."""

import torch
from xrec_bench.methods.att2seq.model import Att2SeqNetwork
from xrec_bench.methods.wordlevel import recurrent


def test_lstm_runs_in_fp32_where_the_cpu_has_no_bf16_lstm(monkeypatch):
    monkeypatch.setattr(recurrent, "cpu_has_bf16_lstm", lambda: False)
    torch.manual_seed(0)
    model = Att2SeqNetwork(5, 6, 30, emsize=8, nhid=16)
    users, items, tokens = torch.tensor([0, 1]), torch.tensor([2, 3]), torch.randint(4, 30, (2, 7))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, _ = model.run(model.start(users, items), tokens)
    plain, _ = model.run(model.start(users, items), tokens)
    assert logits.shape == (2, 7, 30)
    torch.testing.assert_close(logits.float(), plain, atol=0.1, rtol=0.05)  # bf16 around an fp32 LSTM

