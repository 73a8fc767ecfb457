"""Each word-level baseline trains on real yelp-mini explanations, explains readably, and survives save/load.

The default test fits a small slice with narrow layers (the same architectures) so it runs in
seconds; the slow test trains the cpu profile on the full yelp-mini training split.
"""

import pytest
from xrec_bench.config import plugin_layer
from xrec_bench.data import load_dataset
from xrec_bench.methods.wordlevel.tokenizer import tokenize
from xrec_bench.plugin import RunContext
from xrec_bench.records import DatasetSplits
from xrec_bench.registry import methods

NARROW = {
    "att2seq": {"emsize": 32, "nhid": 128, "lr": 0.01},
    "nrt": {"emsize": 64, "nhid": 128, "lr": 0.01},
    "peter": {"emsize": 64, "nhid": 128},
}


def word_precision(prediction: str, reference: str) -> float:
    words, known = tokenize(prediction), set(tokenize(reference))
    return sum(word in known for word in words) / max(len(words), 1)


@pytest.mark.parametrize("name", sorted(NARROW))
def test_fits_real_explanations_and_explains_them(name, mirror, tmp_path):
    records = load_dataset("yelp-mini").train[:32]
    # Validating on the training slice checks that the model can fit (user, item) → explanation.
    splits = DatasetSplits("yelp-mini-slice", records, records, records, None, {})
    cls = methods.get(name)
    config = {**plugin_layer(cls, "cpu"), "length": "official", "max_epochs": 40, "training": {"batch_size": 16},
              **NARROW[name]}
    method = cls(config)
    report = method.fit(splits, RunContext(seed=0))

    valid = [epoch["valid_loss"] for epoch in report["history"]]
    assert report["best_valid_loss"] == min(valid) < valid[0] - 1.5
    assert report["stopped_epoch"] == valid.index(min(valid)) + 1
    assert report["words"] == 15 and report["vocabulary_size"] > 4
    assert all(set(epoch) >= {"train_loss", "valid_loss", "epoch_seconds"} for epoch in report["history"])
    assert report["peak_memory_mb"] > 0

    queries = [r.without_reference() for r in records]
    outputs = method.explain(queries, RunContext())
    assert len(outputs) == len(records) and len(set(outputs)) >= 2
    assert all(len(tokenize(text)) >= 5 and "<" not in text for text in outputs)
    precision = sum(word_precision(o, r.explanation) for o, r in zip(outputs, records)) / len(records)
    assert precision > 0.6, outputs[:3]

    method.save(tmp_path)
    restored = cls(config)
    restored.load(tmp_path, RunContext())
    assert restored.explain(queries[:8], RunContext()) == outputs[:8]


def test_peter_decays_its_learning_rate_only_after_non_improving_epochs(mirror):
    records = load_dataset("yelp-mini").train[:16]
    splits = DatasetSplits("yelp-mini-slice", records, load_dataset("yelp-mini").valid[:16], records, None, {})
    cls = methods.get("peter")
    config = {**plugin_layer(cls, "paper"), "length": "official", "max_epochs": 12, "training": {"batch_size": 8},
              **NARROW["peter"]}
    history = cls(config).fit(splits, RunContext(seed=0))["history"]
    assert not all(epoch["improved"] for epoch in history)  # held-out data: some epochs do not improve
    expected = 1.0
    for epoch in history:
        assert epoch["lr"] == pytest.approx(expected)
        expected *= 1.0 if epoch["improved"] else 0.25


def test_the_same_seed_trains_the_same_model(mirror):
    records = load_dataset("yelp-mini").train[:16]
    splits = DatasetSplits("yelp-mini-slice", records, records, records, None, {})
    cls = methods.get("nrt")
    config = {**plugin_layer(cls, "cpu"), "length": "official", "max_epochs": 3, "training": {"batch_size": 4},
              **NARROW["nrt"]}
    runs = [cls(config) for _ in range(3)]
    losses = [[e["valid_loss"] for e in run.fit(splits, RunContext(seed=seed))["history"]]
              for run, seed in zip(runs, (1, 1, 2))]
    assert losses[0] == losses[1] != losses[2]
