"""Test-wide setup: the data come from the shared mirror beside the checkout, as in CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from xrec_bench.hardware import cpu_has_native_bf16

REPO = Path(__file__).resolve().parent.parent
MIRROR = REPO.parent / "shared" / "xrec-data"
os.environ.setdefault("XREC_BENCH_MIRROR", str(MIRROR))


# For a perf test whose measured step computes in bf16 whatever the CPU: without bf16 hardware torch
# emulates bf16 products about 100x slower than fp32, so the test would run for hours and measure nothing
# the cpu profile does there (it trains in fp32 on such a CPU).
needs_bf16_hardware = pytest.mark.skipif(
    not cpu_has_native_bf16(), reason="it times a bf16 step, and this CPU has no bf16 hardware (AMX or AVX-512 "
                                      "BF16), where torch emulates bf16 about 100x slower than fp32")


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not (Path(os.environ["XREC_BENCH_MIRROR"]) / "yelp" / "tst.pkl").is_file():
        pytest.fail(f"the XRec data mirror is missing at {os.environ['XREC_BENCH_MIRROR']}")
    return Path(os.environ["XREC_BENCH_MIRROR"])


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `xrec-bench` as a user would, in a subprocess."""
    return subprocess.run([sys.executable, "-m", "xrec_bench", *args], check=False, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd or REPO, timeout=1800)
