"""BARTScore and BLEURT: the batched scorers against per-pair computations on small models built from configs,
the neulab anchor value where the real checkpoint exists, and the offline skip."""

from __future__ import annotations

import pytest
import torch
from xrec_bench.errors import MetricUnavailable
from xrec_bench.metrics.bartscore import BARTScore
from xrec_bench.metrics.bleurt import BLEURT
from xrec_bench.models import ModelNotAvailable, locate, resolve
from xrec_bench.plugin import RunContext

PREDICTIONS = ["The user would enjoy the tacos and the salsa.", "Great coffee.",
               "A gripping mystery novel with a clever twist at the end that keeps you reading.",
               "Cheap pizza.", "Quiet park for long walks with the dog on sunny afternoons."]
REFERENCES = ["You would love the tacos here.", "The cafe has excellent espresso and pastries.",
              "The book is a page-turner.", "The pizza is affordable and tasty, with many toppings.",
              "A calm place to stroll."]


@pytest.fixture(scope="module")
def wordpiece_dir():
    return resolve("all-minilm-l6-v2")


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory, wordpiece_dir):
    """A randomly initialised 1+1-layer BART over the MiniLM WordPiece vocabulary ([CLS]/[SEP] as <s>/</s>)."""
    from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration

    directory = tmp_path_factory.mktemp("tiny-bart")
    tokenizer = AutoTokenizer.from_pretrained(wordpiece_dir)
    config = BartConfig(vocab_size=tokenizer.vocab_size, d_model=16, encoder_layers=1, decoder_layers=1,
                        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                        decoder_ffn_dim=32, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
                        bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id,
                        decoder_start_token_id=tokenizer.sep_token_id, forced_eos_token_id=None)
    torch.manual_seed(0)
    BartForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def per_pair_bartscore(directory: str, source: str, target: str) -> float:
    """neulab's quantity for one unpadded pair, by hand: mean log p(target token | source, target prefix)."""
    from transformers import AutoTokenizer, BartForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = BartForConditionalGeneration.from_pretrained(directory).eval()
    source_ids = torch.tensor([tokenizer(source).input_ids])
    target_ids = tokenizer(target).input_ids
    decoder_input = torch.tensor([[model.config.decoder_start_token_id] + target_ids[:-1]])
    with torch.no_grad():
        logits = model(input_ids=source_ids, decoder_input_ids=decoder_input).logits[0]
    log_probs = torch.log_softmax(logits, dim=-1)
    return float(log_probs[torch.arange(len(target_ids)), torch.tensor(target_ids)].mean())


def test_batched_bartscore_equals_the_per_pair_computation(tiny_bart):
    metric = BARTScore({**BARTScore.defaults, "model": tiny_bart, "batch_size": 2})
    result = metric.score(PREDICTIONS, REFERENCES, RunContext())["bartscore"]
    expected = [per_pair_bartscore(tiny_bart, p, r) for p, r in zip(PREDICTIONS, REFERENCES)]
    assert result.per_sample == pytest.approx(expected, abs=1e-5)
    assert result.value == pytest.approx(sum(expected) / len(expected), abs=1e-5)
    assert result.std > 0 and result.n == len(PREDICTIONS)
    assert result.config == {"model": tiny_bart, "weights": None, "max_length": 1024,
                             "direction": "prediction->reference"}


def test_bartscore_weights_option_loads_a_state_dict(tiny_bart, tmp_path):
    from transformers import BartForConditionalGeneration

    state = BartForConditionalGeneration.from_pretrained(tiny_bart).state_dict()  # as neulab saved bart_score.pth
    state = {name: tensor * 0.5 if name.endswith("fc1.weight") else tensor for name, tensor in state.items()}
    weights = tmp_path / "bart_score.pth"
    torch.save(state, weights)
    base = BARTScore({**BARTScore.defaults, "model": tiny_bart}).score(PREDICTIONS[:2], REFERENCES[:2], RunContext())
    tuned = BARTScore({**BARTScore.defaults, "model": tiny_bart, "weights": str(weights)}).score(
        PREDICTIONS[:2], REFERENCES[:2], RunContext())
    assert tuned["bartscore"].config["weights"] is not None
    assert tuned["bartscore"].per_sample != pytest.approx(base["bartscore"].per_sample, abs=1e-6)


def test_bartscore_without_its_checkpoint_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        locate("facebook/bart-large-cnn")
        pytest.skip("facebook/bart-large-cnn is available here, so nothing is skipped")
    except ModelNotAvailable:
        pass
    with pytest.raises(MetricUnavailable, match="facebook/bart-large-cnn"):
        BARTScore(dict(BARTScore.defaults)).score(PREDICTIONS, REFERENCES, RunContext())


def test_neulab_anchor_value_with_bart_large_cnn():
    try:
        locate("facebook/bart-large-cnn")
    except ModelNotAvailable as exc:
        pytest.skip(f"needs the real checkpoint: {exc}")
    result = BARTScore(dict(BARTScore.defaults)).score(["This is interesting."], ["This is fun."], RunContext())
    assert result["bartscore"].value == pytest.approx(-2.510652780532837, abs=1e-4)


@pytest.fixture(scope="module")
def tiny_bleurt(tmp_path_factory, wordpiece_dir):
    """A randomly initialised 2-layer BLEURT regression model over the MiniLM WordPiece vocabulary."""
    from bleurt_pytorch import BleurtConfig, BleurtForSequenceClassification
    from bleurt_pytorch.bleurt.tokenization_bleurt_fast import BleurtTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-bleurt")
    tokenizer = BleurtTokenizerFast.from_pretrained(wordpiece_dir)
    config = BleurtConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=128, num_labels=1)
    torch.manual_seed(0)
    BleurtForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def test_batched_bleurt_equals_per_pair_calls(tiny_bleurt):
    from bleurt_pytorch import BleurtForSequenceClassification, BleurtTokenizer

    result = BLEURT({**BLEURT.defaults, "checkpoint": tiny_bleurt, "batch_size": 2}).score(
        PREDICTIONS, REFERENCES, RunContext())["bleurt"]
    tokenizer = BleurtTokenizer.from_pretrained(tiny_bleurt)
    model = BleurtForSequenceClassification.from_pretrained(tiny_bleurt).eval()
    expected = []
    for prediction, reference in zip(PREDICTIONS, REFERENCES):
        with torch.no_grad():
            expected.append(float(model(**tokenizer(reference, prediction, return_tensors="pt")).logits[0, 0]))
    assert result.per_sample == pytest.approx(expected, abs=1e-5)
    assert len({round(v, 6) for v in expected}) == len(expected)  # the pairs really differ
    assert result.config == {"checkpoint": tiny_bleurt, "max_length": 512}


def test_bleurt_without_its_checkpoint_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checkpoint = BLEURT.profiles["cpu"]["checkpoint"]
    try:
        locate(checkpoint)
        pytest.skip(f"{checkpoint} is available here, so nothing is skipped")
    except ModelNotAvailable:
        pass
    with pytest.raises(MetricUnavailable, match="BLEURT-20-D12"):
        BLEURT({**BLEURT.defaults, "checkpoint": checkpoint}).score(PREDICTIONS, REFERENCES, RunContext())
