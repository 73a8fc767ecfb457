"""Att2Seq (Dong et al., EACL'17) as re-implemented by lileipisces: a 2-layer LSTM started from (user, item).

No rating input and no attention (as in that re-implementation, lileipisces/Att2Seq); each component
is compared with that code in docs/fidelity.md, section Att2Seq.
"""

from typing import Any, ClassVar

from xrec_bench.methods.wordlevel.method import SHARED_CPU_PROFILE, SHARED_DEFAULTS, WordLevelMethod
from xrec_bench.registry import methods


@methods.register("att2seq", summary="Att2Seq: user/item-conditioned 2-layer LSTM explanation generator")
class Att2Seq(WordLevelMethod):
    model_module = "xrec_bench.methods.att2seq.model"
    defaults: ClassVar[dict[str, Any]] = {
        **SHARED_DEFAULTS,
        "emsize": 64,
        "nhid": 512,
        "nlayers": 2,
        "dropout": 0.2,
        "lr": 1e-4,
        "training": {"batch_size": 50},
        "clip_norm": 5.0,
    }
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},  # the official main.py defaults (lileipisces/Att2Seq main.py)
        # 2,400 records make 48 batches an epoch: at lr 1e-4 the loss still falls slowly after 100 epochs,
        # so the cpu profile trains at lr 1e-3 (and, like every word-level cpu profile, until early stopping).
        "cpu": {**SHARED_CPU_PROFILE, "lr": 1e-3},
    }
