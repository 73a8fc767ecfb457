"""``method.precision`` of the models trained from scratch (the word-level baselines and PEPLER).

The names are XRec's: ``fp32``, ``bf16-autocast`` (forward passes under bf16 autocast, weights and
optimiser in fp32). XRec's third value, ``bf16-weights``, stores frozen weights in bf16; these models
train every weight, so it is not among their ``choices`` (config.resolve refuses it). No torch at
import time (plugins are listed without it).
"""

TRAINING_PRECISIONS = ("fp32", "bf16-autocast")
