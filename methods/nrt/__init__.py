"""NRT (Li et al., SIGIR'17) as re-implemented by lileipisces, adapted to XRec data.

Each component is compared with lileipisces/NRT in docs/fidelity.md, section NRT.

XRec data has no ratings, so the rating branch is off (``rating_reg`` must be 0) and the GRU starts
from h0 = tanh(W[u; i]) instead of tanh(W[u; i; onehot(int(r̂))]): an untrained regressor's
int-cast output would be noise. What remains is a GRU decoder conditioned on (user, item), close
to Att2Seq; the bag-of-words task is absent as in the re-implementation.
"""

from typing import Any, ClassVar

from xrec_bench.methods.wordlevel.method import SHARED_CPU_PROFILE, SHARED_DEFAULTS, WordLevelMethod
from xrec_bench.registry import methods


@methods.register("nrt", summary="NRT: GRU explanation decoder started from (user, item); rating branch off")
class NRT(WordLevelMethod):
    model_module = "xrec_bench.methods.nrt.model"
    defaults: ClassVar[dict[str, Any]] = {
        **SHARED_DEFAULTS,
        "emsize": 300,
        "nhid": 400,
        "text_reg": 1.0,
        "rating_reg": 0.0,  # official 1.0; XRec data has no ratings
        "l2_reg": 0.0,
        "lr": 1e-4,
        "training": {"batch_size": 200},
        "clip_norm": None,  # the official NRT does not clip
    }
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},  # the official main.py defaults (lileipisces/NRT main.py), rating branch off
        # 12 batches of 200 an epoch on 2,400 records: lr 1e-4 barely moves in a 10-minute budget, so the
        # cpu profile trains at lr 1e-3 and a smaller batch (more updates per epoch).
        "cpu": {**SHARED_CPU_PROFILE, "lr": 1e-3, "training": {"batch_size": 50}},
    }
