"""`retrieval`: a non-neural baseline that copies the explanation of the most similar training pair."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xrec_bench.plugin import Method, RunContext
from xrec_bench.records import DatasetSplits, Record
from xrec_bench.registry import methods


@methods.register("retrieval", summary="copies the training explanation of the most similar (user, item) pair")
class RetrievalBaseline(Method):
    """Similarity of a test pair to a training pair (higher wins, ties to the earlier training record):

    ``same_user_weight·[same user] + same_item_weight·[same item]
    + cos(tfidf(user profile)) + cos(tfidf(item title + item profile))``,
    with TF-IDF over lower-cased word tokens fitted on the training records (smooth idf, l2 norm).
    """

    version = "1"
    defaults = {"same_user_weight": 1.0, "same_item_weight": 1.0}

    def fit(self, splits: DatasetSplits, ctx: RunContext) -> dict[str, Any]:
        self.train = [(r.uid, r.iid, r.title, r.user_profile, r.item_profile, r.explanation) for r in splits.train]
        self._index()
        return {"history": [], "stopped_epoch": None, "train_records": len(self.train)}

    def _index(self) -> None:
        from xrec_bench.methods.retrieval.tfidf import TfidfIndex

        self.user_index = TfidfIndex([t[3] for t in self.train])
        self.item_index = TfidfIndex([f"{t[2]} {t[4]}" for t in self.train])

    def explain(self, records: Sequence[Record], ctx: RunContext) -> list[str]:
        import numpy as np

        scores = self.user_index.similarity([r.user_profile for r in records])
        scores += self.item_index.similarity([f"{r.title} {r.item_profile}" for r in records])
        train_users = np.array([t[0] for t in self.train])
        train_items = np.array([t[1] for t in self.train])
        for row, record in enumerate(records):
            scores[row] += self.config["same_user_weight"] * (train_users == record.uid)
            scores[row] += self.config["same_item_weight"] * (train_items == record.iid)
        return [self.train[int(best)][5] for best in scores.argmax(axis=1)]

    def save(self, directory: Path) -> None:
        (directory / "train.json").write_text(json.dumps(self.train, ensure_ascii=False), encoding="utf-8")

    def load(self, directory: Path, ctx: RunContext) -> None:
        self.train = [tuple(t) for t in json.loads((directory / "train.json").read_text(encoding="utf-8"))]
        self._index()
