"""Datasets: the XRec release format, mini re-splits, fetching, safe unpickling, dataset cards.

Every module here registers its datasets in ``xrec_bench.registry.datasets``: objects with the
``xrec_bench.plugin.Dataset`` contract (release folder, item word, ``load``, ``card``), so a new
dataset is one module.
"""

from __future__ import annotations

from xrec_bench.records import DatasetSplits


def load_dataset(name: str, *, need_train: bool = True, need_released: bool = False) -> DatasetSplits:
    """Load a registered dataset; only the files the run needs are read (and fetched when missing)."""
    from xrec_bench.registry import datasets

    return datasets.get(name).load(need_train=need_train, need_released=need_released)
