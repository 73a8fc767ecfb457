"""The loaders the plugins share: one table of loaded scorers, one causal-LM loader for XRec and PEPLER."""

from __future__ import annotations

import logging

import pytest
from xrec_bench.errors import UserError
from xrec_bench.loaded_scorers import forget_loaded, load_once, loaded


@pytest.fixture(autouse=True)
def empty_table():
    forget_loaded()
    yield
    forget_loaded()


def test_a_scorer_loads_once_per_metric_and_key():
    calls = []

    def load(tag):
        return lambda: calls.append(tag) or object()

    first = load_once("bleurt", ("dir", "cpu"), load("a"))
    assert load_once("bleurt", ("dir", "cpu"), load("b")) is first
    other_device = load_once("bleurt", ("dir", "cuda"), load("c"))
    other_metric = load_once("bartscore", ("dir", "cpu"), load("d"))
    assert calls == ["a", "c", "d"]
    assert loaded("bleurt") == [first, other_device] and loaded("bartscore") == [other_metric]


def test_bleurt_keeps_its_model_in_the_shared_table(tmp_path):
    import torch
    from bleurt_pytorch import BleurtConfig, BleurtForSequenceClassification
    from bleurt_pytorch.bleurt.tokenization_bleurt_fast import BleurtTokenizerFast
    from xrec_bench.metrics.bleurt import load_bleurt

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ngood\nfood\n")
    BleurtTokenizerFast(vocab_file=str(vocab)).save_pretrained(tmp_path)
    torch.manual_seed(0)
    BleurtForSequenceClassification(BleurtConfig(vocab_size=7, hidden_size=8, num_hidden_layers=1,
                                                 num_attention_heads=2, intermediate_size=16,
                                                 max_position_embeddings=16, num_labels=1)).save_pretrained(tmp_path)
    pair = load_bleurt(str(tmp_path), "cpu")
    assert load_bleurt(str(tmp_path), "cpu") is pair
    assert loaded("bleurt") == [pair]


def test_xrec_and_pepler_load_their_backbones_through_one_loader(monkeypatch):
    from xrec_bench import causal_lm
    from xrec_bench.methods.pepler import model as pepler_model
    from xrec_bench.methods.xrec import backbone as xrec_backbone

    seen = []

    def refuse(name, **kwargs):
        seen.append((name, kwargs))
        raise UserError("stop here")

    monkeypatch.setattr(causal_lm, "load_causal_lm", refuse)
    for load in (lambda: xrec_backbone.load_backbone("some-model", device="cpu", dtype="bfloat16"),
                 lambda: pepler_model.load_backbone("some-model")):
        with pytest.raises(UserError, match="stop here"):
            load()
    assert seen == [("some-model", {"dtype": "bfloat16", "device": "cpu", "load_in_8bit": False}),
                    ("some-model", {})]


def test_eight_bit_without_a_gpu_loads_unquantised_and_says_so(monkeypatch, caplog):
    import torch
    from xrec_bench.causal_lm import _eight_bit

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="xrec_bench"):
        assert _eight_bit("cpu") is None
    assert "8-bit weights need a GPU" in caplog.text
