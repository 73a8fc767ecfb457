"""The reference XRec decoding is checked against: transformers' greedy ``generate``, with the settings
generation used before it had its own loop (tests and the perf test compare the two)."""

from __future__ import annotations

import torch
from xrec_bench.methods.xrec import generation


def transformers_generate(backbone, injector, rows, user, item, cfg, stop, autocast=False):
    """The reference: transformers' generate with the same settings (what generation used before)."""
    from transformers import LogitsProcessorList

    ids, mask = generation.left_padded(rows, backbone.tokenizer.pad_token_id)
    processors = LogitsProcessorList()
    if cfg["repetition_penalty"] != 1.0:
        processors.append(generation.SparingRepetitionPenalty(cfg["repetition_penalty"], stop))
    with (torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast),
          injector.inject(user, item)):
        out = backbone.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=cfg["max_new_tokens"],
                                      do_sample=False, num_beams=1, pad_token_id=backbone.tokenizer.pad_token_id,
                                      eos_token_id=list(stop), logits_processor=processors, temperature=None,
                                      top_p=None, top_k=None, suppress_tokens=backbone.special_ids)
    return [row[:generation.decoding_record(row, stop, cfg["max_new_tokens"])["new_tokens"]]
            for row in out[:, ids.shape[1]:].tolist()]
