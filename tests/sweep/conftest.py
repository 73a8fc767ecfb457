"""The tiny grid the sweep tests share: retrieval on yelp-mini, two seeds, 8 records, lexical and USR."""

import csv

import pytest
import xrec_bench.sweep as sweep_module
from xrec_bench.results import Provenance

TINY = """methods: [retrieval]
datasets: [yelp-mini]
seeds: [0, 1]
set: {limit: 8, metrics.names: [lexical, usr]}
"""


@pytest.fixture
def grid(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text(TINY, encoding="utf-8")
    return path


def version(commit, dirty, code_tree=None, code_dirty=None):
    return Provenance(commit, dirty, "2026-12-01T00:00:00Z", code_tree, code_dirty)


HEAD = version("a" * 40, False, "c" * 20, False)  # the code "running now" in these tests


@pytest.fixture
def head(monkeypatch):
    """Pin the code version the sweep compares results with; the test's checkout may have edits."""
    monkeypatch.setattr(sweep_module, "current_provenance", lambda method: HEAD)
    return HEAD


def cost_rows(out):
    return list(csv.DictReader((out / "boards" / "costs.csv").read_text(encoding="utf-8").splitlines()))
