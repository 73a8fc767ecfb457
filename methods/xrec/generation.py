"""Batched generation: left padding, KV cache, explicit decoding settings, injection on the prompt pass."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from benchmark.records import Record
from methods.xrec.backbone import Backbone, use_attention
from methods.xrec.injection import CollaborativeInjector
from methods.xrec.prompting import PromptBuilder


def left_padded(rows: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row)
        mask[i, width - len(row):] = 1
    return ids, mask


def decoding_kwargs(cfg: dict[str, Any], backbone: Backbone) -> dict[str, Any]:
    """Every decoding setting spelled out, so the backbone's own generation config never applies."""
    kwargs = {"max_new_tokens": cfg["max_new_tokens"], "do_sample": cfg["do_sample"], "num_beams": 1,
              "use_cache": cfg.get("use_cache", True), "pad_token_id": backbone.tokenizer.pad_token_id,
              "eos_token_id": backbone.tokenizer.eos_token_id, "suppress_tokens": backbone.special_ids,
              "repetition_penalty": cfg.get("repetition_penalty", 1.0)}
    if cfg["do_sample"]:
        kwargs.update(temperature=cfg["temperature"], top_p=cfg["top_p"], top_k=0)
    else:
        kwargs.update(temperature=None, top_p=None, top_k=None)
    return kwargs


def generate_ids(backbone: Backbone, injector: CollaborativeInjector, prompts: Sequence[list[int]],
                 user_vectors: torch.Tensor, item_vectors: torch.Tensor, cfg: dict[str, Any],
                 seed: int, bf16: bool = False) -> list[list[int]]:
    """Generated token ids (prompt excluded) for one batch of tokenised prompts."""
    device = user_vectors.device
    ids, mask = left_padded(prompts, backbone.tokenizer.pad_token_id)
    torch.manual_seed(seed)
    with (torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16),
          injector.inject(user_vectors, item_vectors)):
        out = backbone.model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                      **decoding_kwargs(cfg, backbone))
    return [row[ids.shape[1]:].tolist() for row in out]


def explain(backbone: Backbone, injector: CollaborativeInjector, adapters: torch.nn.Module,
            builder: PromptBuilder, records: Sequence[Record], cfg: dict[str, Any], seed: int, device: str,
            progress: Callable[..., Iterable] = lambda it, **_: it) -> list[str]:
    """Explanations in record order; batches are formed from prompts of similar length."""
    tokenizer = backbone.tokenizer
    use_attention(backbone, cfg.get("attention"))
    prompts = [tokenizer(builder.inference_prompt(r), add_special_tokens=False)["input_ids"] for r in records]
    order = sorted(range(len(records)), key=lambda i: len(prompts[i]))
    size = cfg["batch_size"]
    results: dict[int, str] = {}
    adapters.eval()
    batches = [order[i:i + size] for i in range(0, len(order), size)]
    for batch in progress(batches, total=len(batches), desc="XRec generate"):
        uids = torch.tensor([records[i].uid for i in batch], device=device)
        iids = torch.tensor([records[i].iid for i in batch], device=device)
        with torch.no_grad():
            user_vectors, item_vectors = adapters(uids, iids)
        generated = generate_ids(backbone, injector, [prompts[i] for i in batch], user_vectors, item_vectors,
                                 cfg, seed, cfg.get("bf16", False))
        for i, tokens in zip(batch, generated):
            results[i] = builder.clean(tokenizer.decode(tokens, skip_special_tokens=True))
    return [results[i] for i in range(len(records))]
