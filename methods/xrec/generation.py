"""Batched generation: left padding, KV cache, explicit decoding settings, injection on the prompt pass.

Decoding stops at the backbone's end-of-turn token(s) (``Backbone.end_of_turn_ids``), and every output
says whether it did (``Explanation.decoding``). Sampling draws each record's tokens from a generator
seeded by the run seed and the record's sample id, so batching, chunking and sharding do not change
which random numbers a record gets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from transformers import LogitsProcessor
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from xrec_bench.methods.xrec.backbone import Backbone, use_attention
from xrec_bench.methods.xrec.injection import CollaborativeInjector
from xrec_bench.methods.xrec.prompting import PromptBuilder
from xrec_bench.plugin import Explanation
from xrec_bench.records import Record


def left_padded(rows: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row)
        mask[i, width - len(row):] = 1
    return ids, mask


class SparingRepetitionPenalty(LogitsProcessor):
    """transformers' repetition penalty, except on ``spared`` ids: the end-of-turn token occurs in every
    chat prompt, and penalising it would keep the model from ending its turn."""

    def __init__(self, penalty: float, spared: Sequence[int]):
        self.inner = RepetitionPenaltyLogitsProcessor(penalty)
        self.spared = torch.tensor(list(spared), dtype=torch.long)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        kept = scores[:, self.spared].clone()
        scores = self.inner(input_ids, scores)
        scores[:, self.spared] = kept
        return scores


def record_seed(seed: int, sample_id: str) -> int:
    """A record's own sampling seed: the same whatever batch, chunk or shard the record is in."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()[:8], "little") >> 1


class PerRecordSampler(LogitsProcessor):
    """Sampling (temperature, top-k, top-p, then a multinomial draw) with one generator per batch row.

    It leaves only the drawn token finite, so ``generate`` runs greedily on top of it; each row's
    draws come from its own generator and do not depend on the other rows of the batch.
    """

    def __init__(self, seeds: Sequence[int], temperature: float, top_k: int, top_p: float):
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.warpers = [TemperatureLogitsWarper(temperature)]
        if top_k:
            self.warpers.append(TopKLogitsWarper(top_k))
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p))

    def keep(self, rows: Sequence[int]) -> None:
        """Follow the batch when rows leave it: each remaining row keeps its own generator."""
        self.generators = [self.generators[i] for i in rows]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        for warper in self.warpers:
            scores = warper(input_ids, scores)
        probabilities = torch.softmax(scores.float(), dim=-1).cpu()
        drawn = torch.stack([torch.multinomial(row, 1, generator=generator)[0]
                             for row, generator in zip(probabilities, self.generators)])
        only = torch.full_like(scores, -float("inf"))
        only[torch.arange(len(drawn)), drawn.to(scores.device)] = 0.0
        return only


class SuppressedTokens(LogitsProcessor):
    """The XRec tokens (``<USER_EMBED>``, ``<ITEM_EMBED>``, ``<EXPLAIN_POS>``) are never generated."""

    def __init__(self, ids: Sequence[int]):
        self.ids = torch.tensor(list(ids), dtype=torch.long)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores[:, self.ids] = -float("inf")
        return scores


def logits_processors(cfg: dict[str, Any], backbone: Backbone, stop_ids: Sequence[int],
                      seeds: Sequence[int]) -> list[LogitsProcessor]:
    """Every decoding setting spelled out (the backbone's own generation config never applies), in
    transformers' order: suppressed tokens, the repetition penalty, then the per-record sampler."""
    processors: list[LogitsProcessor] = []
    if cfg["suppress_xrec_tokens"]:
        processors.append(SuppressedTokens(backbone.special_ids))
    if cfg["repetition_penalty"] != 1.0:
        processors.append(SparingRepetitionPenalty(cfg["repetition_penalty"], stop_ids))
    if cfg["do_sample"]:
        processors.append(PerRecordSampler(seeds, cfg["temperature"], cfg["top_k"], cfg["top_p"]))
    return processors


def decoding_record(tokens: Sequence[int], stop_ids: Sequence[int], max_new_tokens: int) -> dict[str, Any]:
    """How one row's decoding ended: the new tokens up to the first end-of-turn (included), and why."""
    stops = [i for i, token in enumerate(tokens) if token in stop_ids]
    if stops:
        return {"new_tokens": stops[0] + 1, "stop": "eos"}
    return {"new_tokens": len(tokens), "stop": "max_new_tokens" if len(tokens) >= max_new_tokens else "other"}


def generate_ids(backbone: Backbone, injector: CollaborativeInjector, prompts: Sequence[list[int]],
                 user_vectors: torch.Tensor, item_vectors: torch.Tensor, cfg: dict[str, Any],
                 stop_ids: Sequence[int], seeds: Sequence[int], autocast: bool = False, *,
                 static_cache: bool = True, drop_finished: bool = True) -> list[list[int]]:
    """Generated token ids (prompt excluded, cut after the first end-of-turn) for one batch of prompts.

    Greedy decoding (a sampler, if any, leaves only its draw finite) with the KV cache preallocated for
    the prompt plus ``max_new_tokens`` (``static_cache``: no cache tensor grows or is copied per step,
    and every step has the same shapes), the LM head only on each row's last state, and the rows
    that ended their turn dropped from the batch (``drop_finished``), so a long answer does not keep
    the finished ones computing. Without ``cfg["use_cache"]`` every step reruns the whole sequence.
    """
    from transformers import DynamicCache, StaticCache

    model, device = backbone.model, user_vectors.device
    decoder, head = model.get_decoder(), model.get_output_embeddings()
    ids, mask = left_padded(prompts, backbone.tokenizer.pad_token_id)
    ids, mask = ids.to(device), mask.to(device)
    rows, width = ids.shape
    max_new = cfg["max_new_tokens"]
    processors = logits_processors(cfg, backbone, stop_ids, seeds)
    stops = torch.tensor(list(stop_ids), device=device)
    use_cache = cfg["use_cache"]
    cache = None
    if use_cache:
        cache = StaticCache(config=model.config, max_cache_len=width + max_new) if static_cache else DynamicCache()
    # Rows leave the batch only with a cache: without one, every step re-injects the whole batch's vectors.
    drop = drop_finished and use_cache
    alive = torch.arange(rows, device=device)  # the original row of each row still decoding
    ended = torch.zeros(rows, dtype=torch.bool, device=device)
    sequences, produced = ids, [[] for _ in range(rows)]
    with (torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast),
          injector.inject(user_vectors, item_vectors)):
        for step in range(max_new):
            if use_cache and step:
                inputs, positions = sequences[:, -1:], (mask.sum(1, keepdim=True) - 1)
                cache_position = torch.tensor([width + step - 1], device=device)
            else:
                inputs = sequences
                positions = (mask.cumsum(1) - 1).masked_fill(mask == 0, 1)
                cache_position = torch.arange(sequences.shape[1], device=device)
            hidden = decoder(input_ids=inputs, attention_mask=mask, position_ids=positions, past_key_values=cache,
                             cache_position=cache_position, use_cache=use_cache).last_hidden_state
            # The LM head on each row's last state, as a (rows, hidden) matrix: the causal LM's own
            # logits_to_keep=1 hands it a strided (rows, 1, hidden) slice, for which torch expands the
            # vocabulary-sized weight once per row and copies it (0.9 GB and 2 s per prompt pass of 16).
            scores = head(hidden[:, -1]).float()
            for processor in processors:
                scores = processor(sequences, scores)
            chosen = scores.argmax(-1)
            for row, token in zip(alive.tolist(), chosen.tolist()):
                produced[row].append(token)  # a row that already ended is cut at its first stop below
            sequences = torch.cat([sequences, chosen[:, None]], 1)
            mask = torch.cat([mask, mask.new_ones(len(alive), 1)], 1)
            ended |= torch.isin(chosen, stops)
            if ended.all():
                break
            if drop and ended.any():
                keep = (~ended).nonzero()[:, 0]
                alive, sequences, mask, ended = alive[keep], sequences[keep], mask[keep], ended[keep]
                cache.reorder_cache(keep)
                for processor in processors:
                    if isinstance(processor, PerRecordSampler):
                        processor.keep(keep.tolist())
    return [row[:decoding_record(row, stop_ids, max_new)["new_tokens"]] for row in produced]


def explain(backbone: Backbone, injector: CollaborativeInjector, adapters: torch.nn.Module,
            builder: PromptBuilder, records: Sequence[Record], cfg: dict[str, Any], seed: int, device: str,
            progress: Callable[..., Iterable] = lambda it, **_: it, autocast: bool = False) -> list[Explanation]:
    """Explanations in record order (``autocast``: under bf16 autocast); batches are formed from prompts of
    similar length (a stable sort by prompt tokens, so records the runner already sorted that way keep its batches)."""
    tokenizer = backbone.tokenizer
    use_attention(backbone, cfg["attention"])
    stop_ids = backbone.end_of_turn_ids(builder.fmt == "chat-template")
    prompts = [builder.prompt_ids(builder.inference_prompt(r)) for r in records]
    order = sorted(range(len(records)), key=lambda i: len(prompts[i]))
    size = cfg["batch_size"]
    results: dict[int, Explanation] = {}
    adapters.eval()
    batches = [order[i:i + size] for i in range(0, len(order), size)]
    for batch in progress(batches, total=len(batches), desc="XRec generate"):
        uids = torch.tensor([records[i].uid for i in batch], device=device)
        iids = torch.tensor([records[i].iid for i in batch], device=device)
        with torch.no_grad():
            user_vectors, item_vectors = adapters(uids, iids)
        seeds = [record_seed(seed, records[i].sample_id) for i in batch]
        generated = generate_ids(backbone, injector, [prompts[i] for i in batch], user_vectors, item_vectors,
                                 cfg, stop_ids, seeds, autocast)
        for i, tokens in zip(batch, generated):
            text = builder.clean(tokenizer.decode(tokens, skip_special_tokens=True))
            results[i] = Explanation(text, decoding_record(tokens, stop_ids, cfg["max_new_tokens"]))
    return [results[i] for i in range(len(records))]
