"""User and item id maps for the embedding tables of the word-level baselines.

As in the official code, ids are mapped over all splits (train, valid, test), so every test id
has an embedding row; rows of ids that never occur in training keep their random initialisation
(docs/fidelity.md, "Shared word-level parts"). Ids seen only at inference share one extra,
untrained row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from xrec_bench.records import DatasetSplits, Record


class IdMap:
    """Raw id → contiguous row; row ``len(raw_ids)`` is the shared row of ids never seen in any split."""

    def __init__(self, raw_ids: Iterable[int]):
        self.raw_ids = sorted({int(raw) for raw in raw_ids})
        self.rows = {raw: row for row, raw in enumerate(self.raw_ids)}

    @property
    def num_rows(self) -> int:
        return len(self.raw_ids) + 1

    def __call__(self, raw: int) -> int:
        return self.rows.get(int(raw), len(self.raw_ids))


def build_id_maps(splits: DatasetSplits) -> tuple[IdMap, IdMap]:
    records = [*splits.train, *splits.valid, *splits.test]
    return IdMap(r.uid for r in records), IdMap(r.iid for r in records)


def unseen_report(train: Sequence[Record], test: Sequence[Record]) -> dict[str, Any]:
    """How many test users, items and pairs have no training record (their embeddings stay untrained)."""
    train_users = {r.uid for r in train}
    train_items = {r.iid for r in train}
    test_users = {r.uid for r in test}
    test_items = {r.iid for r in test}
    unseen_pairs = sum(1 for r in test if r.uid not in train_users or r.iid not in train_items)
    return {
        "test_users_unseen": len(test_users - train_users),
        "test_users": len(test_users),
        "test_items_unseen": len(test_items - train_items),
        "test_items": len(test_items),
        "test_pairs_with_unseen_user_or_item": unseen_pairs,
        "test_pairs_unseen_share": unseen_pairs / len(test) if test else 0.0,
    }
