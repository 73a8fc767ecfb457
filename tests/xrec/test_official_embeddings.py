"""The released user_emb.pkl / item_emb.pkl: plain pickle.dump of CUDA, non-leaf tensors, read without
running pickled code and without a GPU; payloads, outside or inside the embedded storage, refused."""

from __future__ import annotations

import io
import os
import pickle
from collections import OrderedDict

import pytest
import torch
from xrec_bench.data.safe_pickle import RefusedPickle, load_tensor
from xrec_bench.errors import UserError
from xrec_bench.methods.xrec.graph import official_embeddings


class _Storage:
    def __init__(self, stream: bytes):
        self.stream = stream

    def __reduce__(self):
        return torch.storage._load_from_bytes, (self.stream,)


class _Tensor:
    def __init__(self, stream: bytes, shape: tuple[int, ...]):
        self.stream, self.shape = stream, shape

    def __reduce__(self):
        stride = (self.shape[1], 1)
        return torch._utils._rebuild_tensor_v2, (_Storage(self.stream), 0, self.shape, stride, True, OrderedDict())


def written_like_xrec(tensor: torch.Tensor, device: str = "cuda:0") -> bytes:
    """What XRec's ``pickle.dump(user_embeds, file)`` writes for a CUDA tensor: torch pickles its storage
    as a legacy torch.save stream tagged with the device; here the CPU tag is rewritten to ``device``."""
    nonleaf = tensor.clone().requires_grad_(True) * 1.0
    plain = pickle.dumps(nonleaf)
    assert b"torch.storage" in plain and b"_load_from_bytes" in plain  # the path the release takes
    stream = io.BytesIO()
    storage = nonleaf.detach().storage()  # TypedStorage, as TypedStorage.__reduce__ saves it
    torch.save(storage, stream, _use_new_zipfile_serialization=False)
    tagged = stream.getvalue().replace(b"X\x03\x00\x00\x00cpu",
                                       b"X" + len(device).to_bytes(4, "little") + device.encode())
    assert device.encode() in tagged
    return pickle.dumps(_Tensor(tagged, tuple(tensor.shape)), protocol=4)


class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_cuda_non_leaf_tensors_load_on_the_cpu(tmp_path):
    user, item = torch.randn(7, 4), torch.randn(5, 4)
    (tmp_path / "user_emb.pkl").write_bytes(written_like_xrec(user))
    (tmp_path / "item_emb.pkl").write_bytes(written_like_xrec(item))
    with pytest.raises(pickle.UnpicklingError):  # what made method.graph_embeddings=official fail before
        torch.load(tmp_path / "user_emb.pkl", map_location="cpu", weights_only=True)
    loaded = official_embeddings(tmp_path)
    torch.testing.assert_close(loaded.user, user)
    torch.testing.assert_close(loaded.item, item)
    assert loaded.user.device.type == "cpu" and not loaded.user.requires_grad


def test_a_payload_is_refused_outside_and_inside_the_storage_stream(tmp_path):
    marker = tmp_path / "ran"
    outer = tmp_path / "outer.pkl"
    outer.write_bytes(pickle.dumps(_System(marker)))
    inner = tmp_path / "inner.pkl"
    inner.write_bytes(pickle.dumps(_Tensor(pickle.dumps(_System(marker), protocol=2), (1, 1)), protocol=4))
    for path in (outer, inner):
        with pytest.raises(RefusedPickle, match="torch tensors"):
            load_tensor(path)
    assert not marker.exists()


def test_a_list_is_not_a_tensor(tmp_path):
    path = tmp_path / "frame.pkl"
    path.write_bytes(pickle.dumps([1.0, 2.0]))
    with pytest.raises(UserError, match="not the expected torch tensor"):
        load_tensor(path)
