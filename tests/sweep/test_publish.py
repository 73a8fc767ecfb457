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


def publish(*paths: Path) -> subprocess.CompletedProcess:
    """``publish.sh GRID [GRID ...] RUNS DEST``."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # xrec-bench and python3 of this venv
    return subprocess.run(["bash", str(REPO / "leaderboards" / "publish.sh"), *map(str, paths)],
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


def test_grids_sharing_a_runs_directory_are_published_with_one_cost_table(tmp_path, mirror, grid):
    code = current_provenance("retrieval")
    if code.code_tree is None or code.code_dirty:
        pytest.skip("the checkout has uncommitted code edits, so publish.sh rightly finds no cell complete")
    runs, dest = tmp_path / "runs", tmp_path / "published"
    one_seed = grid.read_text(encoding="utf-8").replace("seeds: [0, 1]", "seeds: [0]")
    grid.write_text(one_seed, encoding="utf-8")
    zeroshot = tmp_path / "zeroshot.yaml"
    zeroshot.write_text(one_seed.replace("yelp-mini", "yelp-mini-zeroshot"), encoding="utf-8")
    for path in (grid, zeroshot):
        sweep(path, runs, log=lambda line: None)
    unreadable = tmp_path / "unreadable.yaml"
    unreadable.write_text(one_seed + "metric: [usr]\n", encoding="utf-8")
    refused = publish(grid, unreadable, runs, dest)  # every grid is read before anything is copied
    assert refused.returncode == 2 and "unknown key metric" in refused.stderr
    assert not dest.exists()
    done = publish(grid, zeroshot, runs, dest)
    assert done.returncode == 0, done.stderr
    assert sorted(p.parts[-4] for p in dest.glob("*/*/*/samples.jsonl.gz")) == ["yelp-mini", "yelp-mini-zeroshot"]
    costs = (dest / "boards" / "costs.csv").read_text(encoding="utf-8")
    assert "yelp-mini-zeroshot" in costs and costs.count("complete") == 2


def test_publish_refuses_a_missing_grid_or_runs_directory_in_one_line(tmp_path, grid):
    for paths in [(grid, tmp_path / "published"), (grid, tmp_path / "nowhere", tmp_path / "published"),
                  (tmp_path / "nogrid.yaml", tmp_path, tmp_path / "published")]:
        refused = publish(*paths)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert refused.stderr.startswith("usage: leaderboards/publish.sh")
    assert not (tmp_path / "published").exists()
