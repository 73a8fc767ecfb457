"""The cpu profiles pick bf16 only where the CPU has hardware bf16 (emulated bf16 was ~100x slower)."""

from xrec_bench import hardware
from xrec_bench.config import resolve


def test_cpu_profiles_follow_this_cpu():
    native = hardware.cpu_has_native_bf16()
    xrec = resolve(method="xrec", dataset="yelp-mini", metric_names=["usr"])["method"]
    assert xrec["precision"] == ("bf16-weights" if native else "fp32")
    assert "dtype" not in xrec and "bf16" not in xrec["training"] and "bf16" not in xrec["generation"]
    for name in ("att2seq", "nrt", "peter", "pepler"):
        method = resolve(method=name, dataset="yelp-mini", metric_names=["usr"])["method"]
        assert method["precision"] == ("bf16-autocast" if native else "fp32") and "bf16" not in method


def test_flags_are_read_from_cpuinfo(monkeypatch, tmp_path):
    fake = tmp_path / "cpuinfo"
    fake.write_text("flags\t\t: fpu avx2 avx512f amx_bf16 amx_tile\n")
    original = hardware.Path

    monkeypatch.setattr(hardware, "Path", lambda p: fake if p == "/proc/cpuinfo" else original(p))
    hardware.cpu_has_native_bf16.cache_clear()
    try:
        assert hardware.cpu_has_native_bf16() is True
        fake.write_text("flags\t\t: fpu avx2\n")
        hardware.cpu_has_native_bf16.cache_clear()
        assert hardware.cpu_has_native_bf16() is False
    finally:
        hardware.cpu_has_native_bf16.cache_clear()
