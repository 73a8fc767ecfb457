"""One seed for every random number generator a run uses (Python's, NumPy's, and torch's once imported)."""

from __future__ import annotations

import random
import sys


def seed_everything(seed: int) -> None:
    """Seed ``random``, NumPy and, when it is already imported, torch (importing torch here would cost seconds)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
