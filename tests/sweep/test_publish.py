"""leaderboards/publish.sh on a real sweep of two tiny cells: publishing a sweep's own runs, then publishing
again from a tree copied back out of the published one (a resumed sweep), which has only samples.jsonl.gz."""

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from xrec_bench.sweep import current_provenance, sweep

from tests.conftest import REPO


def publish(grid: Path, runs: Path, dest: Path) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # xrec-bench and python3 of this venv
    return subprocess.run(["bash", str(REPO / "leaderboards" / "publish.sh"), str(grid), str(runs), str(dest)],
                          env={**os.environ, "PATH": path}, capture_output=True, text=True, check=False, timeout=600)


def published_samples(dest: Path) -> dict[str, bytes]:
    return {str(p.relative_to(dest)): p.read_bytes() for p in sorted(dest.glob("*/*/*/samples.jsonl.gz"))}


def test_publishing_a_resumed_tree_keeps_the_published_predictions(tmp_path, mirror, grid):
    code = current_provenance("retrieval")
    if code.code_tree is None or code.code_dirty:
        pytest.skip("the checkout has uncommitted code edits, so publish.sh rightly finds no cell complete")
    runs, dest = tmp_path / "runs", tmp_path / "published"
    sweep(grid, runs, log=lambda line: None)
    first = publish(grid, runs, dest)
    assert first.returncode == 0, first.stderr
    samples = published_samples(dest)
    assert len(samples) == 2
    for rel, data in samples.items():
        assert gzip.decompress(data) == (runs / rel).with_suffix("").read_bytes()

    resumed = tmp_path / "resumed"  # what the grid-cells README says to do: cp -r published/. runs/
    shutil.copytree(dest, resumed, ignore=shutil.ignore_patterns("boards"))
    assert not list(resumed.glob("*/*/*/samples.jsonl"))
    again = publish(grid, resumed, dest)
    assert again.returncode == 0, again.stderr
    assert published_samples(dest) == samples
    assert not list(dest.glob("*/*/*/*.tmp"))
