"""Loading a pretrained causal LM and its tokenizer by model value, shared by the LLM methods (XRec, PEPLER).

The value is an offline model name (``xrec-bench models fetch``), a local directory or a Hugging Face
hub id (``xrec_bench.models.resolve``). 8-bit weights (``load_in_8bit``) need a GPU and bitsandbytes
(``pip install 'xrec-bench[paper]'``); without either the model loads in ``dtype`` and a warning says so.
"""

from __future__ import annotations

import logging
from typing import Any

from xrec_bench.errors import UserError

log = logging.getLogger("xrec_bench")


def load_causal_lm(name: str, *, dtype: str = "float32", device: str | None = None,
                   load_in_8bit: bool = False) -> tuple[Any, Any]:
    """``(model, tokenizer)`` as ``from_pretrained`` gives them, the model on ``device`` when one is given."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from xrec_bench.models import hub_reachable_hint, resolve

    location = resolve(name)
    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
    if load_in_8bit:
        kwargs = _eight_bit(device) or kwargs
    try:
        tokenizer = AutoTokenizer.from_pretrained(location)
        model = AutoModelForCausalLM.from_pretrained(location, **kwargs)
    except OSError as exc:
        raise UserError(hub_reachable_hint(name)) from exc
    if device is not None and "device_map" not in kwargs:
        model.to(device)
    return model, tokenizer


def _eight_bit(device: str | None) -> dict[str, Any] | None:
    """``from_pretrained`` arguments for 8-bit weights on ``device``, or None (with a warning) where they cannot run."""
    import torch

    if not torch.cuda.is_available():
        log.warning("8-bit weights need a GPU; loading the backbone unquantised on %s", device or "cpu")
        return None
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError:
        log.warning("8-bit weights need bitsandbytes (pip install 'xrec-bench[paper]'); loading unquantised")
        return None
    return {"quantization_config": BitsAndBytesConfig(load_in_8bit=True), "device_map": {"": device or "cuda"}}
