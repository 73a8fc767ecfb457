"""Loading untrusted pickles: only what a pandas DataFrame or a list of str needs may be built (or,
for the released LightGCN embeddings, a torch tensor).

The XRec release is pickled, and a pickle can call any importable function while it loads.
This unpickler refuses every global outside a short allow-list, so a malicious file fails before
anything it asked for runs.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from xrec_bench.errors import UserError

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
    # pandas 3 pickles name the public classes, and keeps str columns as pyarrow-backed arrays
    ("builtins", "bytearray"),
    ("_codecs", "encode"),  # protocol 2 writes bytes as _codecs.encode(text, "latin1")
    ("pandas", "DataFrame"),
    ("pandas", "Series"),
    ("pandas", "Index"),
    ("pandas", "RangeIndex"),
    ("pandas", "StringDtype"),
    ("pandas.arrays", "ArrowStringArray"),
    ("pandas.arrays", "StringArray"),
    ("pyarrow.lib", "_restore_array"),
    ("pyarrow.lib", "py_buffer"),
    ("pyarrow.lib", "type_for_alias"),
}


class RefusedPickle(UserError):
    """The pickle asked for something outside the allow-list."""


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a callable outside the allow-list (a malformed pickle raises the plain error)."""


class RestrictedUnpickler(pickle.Unpickler):
    allowed = ALLOWED_GLOBALS
    accepts = "DataFrames and lists of str"  # what the refusal says is accepted

    def find_class(self, module: str, name: str) -> Any:
        # Protocol 2 names Python 2's __builtin__, which find_class maps to builtins.
        if ({"__builtin__": "builtins"}.get(module, module), name) not in self.allowed:
            raise ForbiddenGlobal(f"{module}.{name}")
        return super().find_class(module, name)


def _storage_from_bytes(data: bytes) -> Any:
    """``torch.storage._load_from_bytes`` made safe: the embedded legacy ``torch.save`` stream goes
    through torch's weights-only unpickler, and every storage is mapped to the CPU."""
    import torch

    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ForbiddenGlobal(f"an embedded storage that torch's weights-only loader refuses "
                              f"({str(exc).splitlines()[0][:80]})") from None


class TensorUnpickler(RestrictedUnpickler):
    """A tensor written with plain ``pickle.dump`` (XRec's encoder/train_encoder.py writes its LightGCN
    embeddings so): ``_rebuild_tensor_v2(_load_from_bytes(stream), ...)``, nothing else."""

    allowed = frozenset({("torch._utils", "_rebuild_tensor_v2"), ("collections", "OrderedDict"),
                         ("torch.storage", "_load_from_bytes")})
    accepts = "torch tensors"

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch.storage", "_load_from_bytes"):
            return _storage_from_bytes
        return super().find_class(module, name)


def load_tensor(path: str | Path) -> Any:
    """A pickled torch tensor (on any device when it was written), as a detached CPU tensor."""
    import torch

    obj = load_pickle(path, TensorUnpickler)
    if not isinstance(obj, torch.Tensor):
        raise UserError(f"{path} holds a {type(obj).__name__}, not the expected torch tensor.")
    return obj.detach()


def load_pickle(path: str | Path, unpickler: type[RestrictedUnpickler] = RestrictedUnpickler) -> Any:
    """Load a pickle file through a restricted unpickler; refuse anything else with one sentence."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"Pickle file {path} does not exist; check the path.") from None
    try:
        return unpickler(io.BytesIO(data)).load()
    except ForbiddenGlobal as exc:
        raise RefusedPickle(f"Refused to load {path}: it asks to run {exc}, which a data file never "
                            f"needs; only {unpickler.accepts} are accepted.") from None
    except Exception as exc:  # noqa: BLE001 - any failure of the allowed constructors is a bad file
        # Malformed or truncated data (UnpicklingError, EOFError...), or allowed constructors fed
        # values they reject (complex(10**400) overflows): the file is broken, not the program.
        detail = str(exc).splitlines()[0][:120].rstrip(".") if str(exc) else ""
        raise UserError(f"{path} is not a readable pickle ({exc.__class__.__name__}"
                        f"{': ' + detail if detail else ''}); re-fetch or replace the file.") from None


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
