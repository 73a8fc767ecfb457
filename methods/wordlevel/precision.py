"""``method.precision`` of the models trained from scratch (the word-level baselines and PEPLER).

The names are XRec's: ``fp32``, ``bf16-autocast`` (forward passes under bf16 autocast, weights and
optimiser in fp32). XRec's third value, ``bf16-weights``, stores frozen weights in bf16; these models
train every weight, so it is refused here. No torch at import time (plugins are listed without it).
"""

from __future__ import annotations

from xrec_bench.errors import UserError

TRAINING_PRECISIONS = ("fp32", "bf16-autocast")


def check_training_precision(precision: str) -> str:
    if precision not in TRAINING_PRECISIONS:
        raise UserError(f"method.precision must be one of {', '.join(TRAINING_PRECISIONS)} for a model trained "
                        f"from scratch, not {precision!r}; fix it with --set method.precision=...")
    return precision
