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
    hardware._cpuinfo.cache_clear()
    try:
        assert hardware.cpu_has_native_bf16() is True
        fake.write_text("flags\t\t: fpu avx2\n")
        hardware._cpuinfo.cache_clear()
        assert hardware.cpu_has_native_bf16() is False
    finally:
        hardware._cpuinfo.cache_clear()


def test_the_cpu_description_names_the_model_and_its_bf16_instructions(monkeypatch):
    """Recorded in every result's environment and shown in the cost table's machine column."""
    info = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu avx512_bf16 amx_bf16\n"
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: info)
    assert hardware.cpu_description() == {"cpu_model": "Intel(R) Xeon(R) Processor",
                                          "cpu_bf16": "amx_bf16 avx512_bf16"}
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: "model name\t: AMD EPYC\nflags\t\t: fpu avx2\n")
    assert hardware.cpu_description() == {"cpu_model": "AMD EPYC", "cpu_bf16": "none"}
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: "")
    assert hardware.cpu_description() == {"cpu_model": None, "cpu_bf16": None}
