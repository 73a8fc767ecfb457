"""Mini datasets: the 3,000 public test records of each XRec dataset, re-split for quick runs.

Rule (machine-independent, seeded by a fixed salt): every record gets the key
``sha256("xrec-bench-mini-v1:<dataset>:<uid>:<iid>")``; records sorted by key are cut 80/10/10
into train / valid / test (2,400 / 300 / 300). The interaction graph is the dataset's full
training graph. The zero-shot variant sorts *users* by ``sha256("xrec-bench-zeroshot-v1:<dataset>:<uid>")``
and moves whole users into test until it holds at least 10% of the records, so no test user has a
training explanation; the rest are cut 8:1 into train / valid by the record key.
These are NOT the paper's splits; their cards say so.
"""

from __future__ import annotations

import hashlib
from typing import Any

from xrec_bench.data.card import build_card
from xrec_bench.data.release import RELEASES, files_read, load_graph, load_released, load_split
from xrec_bench.records import DatasetSplits, Record
from xrec_bench.registry import datasets

SALT = "xrec-bench-mini-v1"
ZEROSHOT_SALT = "xrec-bench-zeroshot-v1"


def _key(*parts: object) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def split_mini(dataset: str, records: list[Record]) -> tuple[list[Record], list[Record], list[Record]]:
    ordered = sorted(records, key=lambda r: _key(SALT, dataset, r.uid, r.iid))
    n_train, n_valid = len(ordered) * 8 // 10, len(ordered) // 10
    return ordered[:n_train], ordered[n_train:n_train + n_valid], ordered[n_train + n_valid:]


def split_zeroshot(dataset: str, records: list[Record]) -> tuple[list[Record], list[Record], list[Record]]:
    by_user: dict[int, list[Record]] = {}
    for record in records:
        by_user.setdefault(record.uid, []).append(record)
    test_users: set[int] = set()
    test_size = 0
    for uid in sorted(by_user, key=lambda u: _key(ZEROSHOT_SALT, dataset, u)):
        if test_size >= len(records) // 10:
            break
        test_users.add(uid)
        test_size += len(by_user[uid])
    test = sorted((r for r in records if r.uid in test_users), key=lambda r: _key(SALT, dataset, r.uid, r.iid))
    rest = sorted((r for r in records if r.uid not in test_users), key=lambda r: _key(SALT, dataset, r.uid, r.iid))
    n_valid = len(rest) // 9
    return rest[n_valid:], rest[:n_valid], test


class MiniDataset:
    """A re-split of the public test records, for runs on this machine and in CI."""

    def __init__(self, release: str, item_word: str, *, zeroshot: bool):
        self.release = release
        self.item_word = item_word
        self.zeroshot = zeroshot

    def load(self, *, need_train: bool = True, need_released: bool = False) -> DatasetSplits:
        records = load_split(self.release, "tst.pkl")
        splitter = split_zeroshot if self.zeroshot else split_mini
        train, valid, test = splitter(self.release, records)
        name = f"{self.release}-mini{'-zeroshot' if self.zeroshot else ''}"
        released = None
        if need_released:
            test_ids = {r.sample_id for r in test}
            released = [r for r in load_released(self.release, records) if r.sample_id in test_ids]
        graph = load_graph(self.release) if need_train else None
        splits = DatasetSplits(name, train, valid, test, graph, card={}, released=released,
                               item_word=self.item_word)
        rule = "zero-shot user split" if self.zeroshot else "80/10/10 record split"
        read = files_read(self.release, ("tst.pkl",), graph=need_train, released=need_released)
        splits.card = build_card(
            splits, release_dataset=self.release, files_read=read,
            note=(f"NOT the paper's splits: the 3,000 public test records of {self.release} re-split by "
                  f"the seeded {rule} documented in benchmark/data/mini.py; graph = the full training "
                  f"interaction graph."))
        return splits

    def card(self) -> dict[str, Any]:
        # Every split comes from the public tst.pkl, so the card covers them all and the graph.
        return self.load(need_train=True, need_released=True).card


for _release, (_, _item_word) in RELEASES.items():
    datasets.add(f"{_release}-mini", MiniDataset(_release, _item_word, zeroshot=False),
                 summary=f"{_release}'s 3,000 public test records split 80/10/10 (quick runs, CI)")
    datasets.add(f"{_release}-mini-zeroshot", MiniDataset(_release, _item_word, zeroshot=True),
                 summary=f"{_release}-mini with whole users held out: no test user has a training explanation")
