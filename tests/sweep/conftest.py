"""The tiny grid the sweep tests share: retrieval on yelp-mini, two seeds, 8 records, lexical and USR."""

import pytest

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
