"""MoE adapter: shapes, gating, noise only in training, and the official state-dict layout."""

from __future__ import annotations

import pytest
import torch
from xrec_bench.errors import UserError
from xrec_bench.methods.xrec.adapter import LinearAdapter, MoEAdapter
from xrec_bench.methods.xrec.checkpoint import load_official_adapters
from xrec_bench.methods.xrec.training import CollaborativeAdapters


def test_shapes_and_zero_initialised_gate_is_uniform():
    adapter = MoEAdapter(64, 96)
    x = torch.randn(5, 64)
    assert adapter(x).shape == (5, 96)
    assert adapter(torch.randn(2, 3, 64)).shape == (2, 3, 96)
    adapter.eval()
    torch.testing.assert_close(adapter.gates(x), torch.full((5, 8), 1 / 8))
    assert len(adapter.experts) == 8
    std = torch.cat([e.lin.weight.flatten() for e in adapter.experts]).std()
    assert 0.017 < std < 0.023  # N(0, 0.02)


def test_output_is_the_gate_weighted_sum_of_whitened_experts():
    torch.manual_seed(0)
    adapter = MoEAdapter(4, 3, num_experts=2, dropout=0.0).eval()
    with torch.no_grad():
        adapter.w_gate.copy_(torch.randn(4, 2))
        for e in adapter.experts:
            e.bias.copy_(torch.randn(4))
    x = torch.randn(1, 4)
    gates = torch.softmax(x @ adapter.w_gate, -1)[0]
    expected = sum(g * ((x - e.bias) @ e.lin.weight.T) for g, e in zip(gates, adapter.experts))
    torch.testing.assert_close(adapter(x), expected)


def test_gate_noise_only_in_training():
    torch.manual_seed(0)
    adapter = MoEAdapter(64, 32, dropout=0.0)
    with torch.no_grad():
        adapter.w_noise.normal_()
    x = torch.randn(4, 64)
    adapter.train()
    assert not torch.allclose(adapter.gates(x), adapter.gates(x))
    adapter.eval()
    torch.testing.assert_close(adapter.gates(x), adapter.gates(x))
    torch.testing.assert_close(adapter(x), adapter(x))


def test_dropout_active_in_training_only():
    adapter = LinearAdapter(64, 16, dropout=0.5)
    x = torch.ones(8, 64)
    adapter.train()
    assert not torch.allclose(adapter(x), adapter(x))
    adapter.eval()
    torch.testing.assert_close(adapter(x), adapter(x))


def official_state_dict(width: int, seed: int) -> dict[str, torch.Tensor]:
    """The key layout we infer for the released *_converter.pkl: a UniSRec-style MoEAdaptorLayer
    state dict (``experts.{i}.bias`` (64,), ``experts.{i}.lin.weight`` (width, 64), ``w_gate`` and
    ``w_noise`` (64, 8)). Its size for width 4096 (2,098,688 float32 = 8,394,752 bytes) matches the
    8,401,594-byte upstream files up to the zip container's overhead."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for i in range(8):
        state[f"experts.{i}.bias"] = torch.randn(64, generator=g)
        state[f"experts.{i}.lin.weight"] = torch.randn(width, 64, generator=g)
    state["w_gate"] = torch.randn(64, 8, generator=g)
    state["w_noise"] = torch.randn(64, 8, generator=g)
    return state


def test_official_adapters_load_with_weights_only(tmp_path):
    for seed, name in enumerate(("user", "item")):
        torch.save(official_state_dict(4096, seed), tmp_path / f"{name}_converter.pkl")
    adapters = CollaborativeAdapters(MoEAdapter(64, 4096), MoEAdapter(64, 4096), torch.zeros(3, 64), torch.zeros(3, 64))
    load_official_adapters(adapters, tmp_path)
    torch.testing.assert_close(adapters.item.w_gate, official_state_dict(4096, 1)["w_gate"])
    torch.testing.assert_close(adapters.user.experts[7].lin.weight, official_state_dict(4096, 0)["experts.7.lin.weight"])
    assert sum(p.numel() for p in adapters.user.parameters()) == 2_098_688


def test_official_adapters_refuse_a_wrong_width_and_pickled_code(tmp_path):
    for seed, name in enumerate(("user", "item")):
        torch.save(official_state_dict(4096, seed), tmp_path / f"{name}_converter.pkl")
    small = CollaborativeAdapters(MoEAdapter(64, 576), MoEAdapter(64, 576), torch.zeros(3, 64), torch.zeros(3, 64))
    with pytest.raises(UserError, match="does not fit"):
        load_official_adapters(small, tmp_path)
    torch.save({"w_gate": torch.zeros(1), "evil": print}, tmp_path / "user_converter.pkl")
    with pytest.raises(Exception, match="(?i)weights.only|unsupported|global"):
        load_official_adapters(small, tmp_path)
