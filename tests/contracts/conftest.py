"""Fixtures of the plugin contract tests: a yelp-mini slice with a small graph, and tiny models built
from configs (the same ones the method and metric tests use), so the default run stays fast."""

from __future__ import annotations

import pytest
from xrec_bench.records import DatasetSplits, InteractionGraph, Record

# Imported so that pytest finds them here too: tiny random models saved with real tokenizers, and one
# torch thread for tiny matrices (a second one only waits on a loaded shared CPU).
from tests.metrics_models.test_bart_bleurt import tiny_bart, tiny_bleurt, wordpiece_dir  # noqa: F401
from tests.pepler.conftest import one_thread_for_tiny_models, tiny_backbone_dir  # noqa: F401

RECORDS = 8  # per split: what the contract asks a method to fit, explain, save and load


def small_graph(train: list[Record], valid: list[Record], test: list[Record]) -> InteractionGraph:
    """The slice's own (user, item) pairs as interactions, over the real user and item ids."""
    import numpy as np

    def edges(records: list[Record]):
        return np.array([(r.uid, r.iid) for r in records], dtype=np.int64).reshape(-1, 2)

    everything = train + valid + test
    return InteractionGraph(max(r.uid for r in everything) + 1, max(r.iid for r in everything) + 1,
                            edges(train), edges(valid), edges(test))


@pytest.fixture(scope="session")
def mini_slice(mirror) -> DatasetSplits:
    """8 records of each yelp-mini split, its released pairs among them, and a small interaction graph."""
    from xrec_bench.registry import datasets

    full = datasets.get("yelp-mini").load(need_train=False, need_released=True)
    train, valid, test = full.train[:RECORDS], full.valid[:RECORDS], full.test[:RECORDS]
    return DatasetSplits(full.name, train, valid, test, small_graph(train, valid, test), card={},
                         released=full.released[:RECORDS], item_word=full.item_word)
