"""Loading untrusted pickles: only what a pandas DataFrame or a list of str needs may be built.

The XRec release is pickled, and a pickle can call any importable function while it loads.
This unpickler refuses every global outside a short allow-list, so a malicious file fails before
anything it asked for runs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from benchmark.errors import UserError

ALLOWED_GLOBALS = {
    ("builtins", "slice"),
    ("builtins", "complex"),
    ("collections", "OrderedDict"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.series", "Series"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
    ("pandas.core.internals.managers", "BlockManager"),
    ("pandas.core.internals.managers", "SingleBlockManager"),
    ("pandas.core.internals.blocks", "new_block"),
    ("pandas._libs.internals", "_unpickle_block"),
}


class RefusedPickle(UserError):
    """The pickle asked for something outside the allow-list."""


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"{module}.{name}")
        return super().find_class(module, name)


def load_pickle(path: str | Path) -> Any:
    """Load a pickle file through the restricted unpickler; refuse anything else with one sentence."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"Pickle file {path} does not exist; check the path.") from None
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        raise RefusedPickle(f"Refused to load {path}: it asks to run {exc}, which a data file never "
                            f"needs; only DataFrames and lists of str are accepted.") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise UserError(f"{path} is not a readable pickle ({exc.__class__.__name__}); re-fetch or "
                        f"replace the file.") from None


def load_dataframe(path: str | Path):
    import pandas as pd

    obj = load_pickle(path)
    if not isinstance(obj, pd.DataFrame):
        raise UserError(f"{path} holds a {type(obj).__name__}, not the expected pandas DataFrame.")
    return obj


def load_string_list(path: str | Path) -> list[str]:
    obj = load_pickle(path)
    if not isinstance(obj, list) or not all(isinstance(s, str) for s in obj):
        raise UserError(f"{path} does not hold a list of strings.")
    return obj
