"""Fixtures: a tiny randomly initialised LLaMA backbone with the real SmolLM2 tokenizer, and yelp-mini slices."""

from __future__ import annotations

from pathlib import Path

import pytest
from xrec_bench.records import DatasetSplits


@pytest.fixture(scope="session")
def tiny_backbone_dir(tmp_path_factory) -> Path:
    """A 2-layer LLaMA (hidden 64) with random weights, saved with SmolLM2's real tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    from xrec_bench.models import resolve

    tokenizer = AutoTokenizer.from_pretrained(resolve("smollm2-135m-instruct"))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True)
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def yelp_mini(mirror) -> DatasetSplits:
    from xrec_bench.data import load_dataset

    return load_dataset("yelp-mini")


def sliced(splits: DatasetSplits, train: int, valid: int, test: int) -> DatasetSplits:
    """The first records of each split (real uids, iids and reference explanations)."""
    return DatasetSplits(splits.name, splits.train[:train], splits.valid[:valid], splits.test[:test],
                         splits.graph, splits.card)


@pytest.fixture(autouse=True)
def one_thread_for_tiny_models(request):
    """Tiny matrices gain nothing from a second thread, and lose much on a loaded shared machine."""
    if request.node.get_closest_marker("slow") or request.node.get_closest_marker("perf"):
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def backward_with_a_context_per_slice(model, users, items, ids, mask, rows: int) -> None:
    """The trainer's previous bf16 path: a fresh autocast context (and so fresh weight casts) around
    each slice's forward pass, its backward outside it; gradients accumulate on the model."""
    import torch

    count = int(mask.sum())
    for start in range(0, len(users), rows):
        part = slice(start, start + rows)
        width = int(mask[part].sum(dim=1).max())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            nll, _ = model.nll_sum(users[part], items[part], ids[part, :width], mask[part, :width])
        (nll / count).backward()
