"""Synthetic records and graphs, and a tiny random LLaMA (grouped-query attention) with the real
SmolLM2 tokenizer, for fast tests."""

from __future__ import annotations

import random

from xrec_bench.records import InteractionGraph, Record

WORDS = ["tacos", "spicy", "salsa", "friendly", "staff", "cozy", "patio", "craft", "beer", "late", "hours", "fresh", "bread", "quiet", "brunch", "coffee", "pastries", "music", "lively", "bar", "burgers", "fries"]


def make_records(count: int, num_users: int = 12, num_items: int = 10, seed: int = 0) -> list[Record]:
    rng = random.Random(seed)
    records = []
    for i in range(count):
        uid, iid = rng.randrange(num_users), rng.randrange(num_items)
        likes = " ".join(rng.sample(WORDS, 4))
        records.append(Record(f"s{i}", uid, iid, f"Place {iid}", f"This user enjoys {likes}.",
                              f"A spot known for {' '.join(rng.sample(WORDS, 4))}.",
                              f"The user would enjoy Place {iid} because it offers {likes}."))
    return records


def make_graph(num_users: int = 12, num_items: int = 10, seed: int = 0) -> InteractionGraph:
    import numpy as np

    rng = np.random.default_rng(seed)
    edges = np.unique(np.stack([rng.integers(0, num_users, 80), rng.integers(0, num_items, 80)], 1), axis=0)
    return InteractionGraph(num_users, num_items, edges[:60], edges[60:70], edges[70:])


def tiny_backbone(tokenizer_dir: str, num_kv_heads: int = 2, seed: int = 0, new_token_init: str = "mean"):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM
    from xrec_bench.methods.xrec.backbone import from_model

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=num_kv_heads, max_position_embeddings=512,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=1, eos_token_id=2,
                         tie_word_embeddings=True)
    return from_model(LlamaForCausalLM(config).eval(), tokenizer, new_token_init)
