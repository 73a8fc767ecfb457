"""The three XRec datasets in the official release format: amazon, google, yelp.

Files: ``tst.pkl`` / ``val.pkl`` / ``trn.pkl`` (DataFrames: uid, iid, title, user_summary,
item_summary, explanation), ``total_{trn,val,tst}.csv`` interactions (Amazon's training graph
comes from ``para_dict.pickle`` neighbour lists), ``tst_pred.pkl`` / ``tst_ref.pkl`` released
predictions. Only the files a run needs are loaded (and fetched if missing).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from xrec_bench.data.card import build_card
from xrec_bench.data.fetch import ensure_file
from xrec_bench.data.safe_pickle import load_dataframe, load_pickle, load_string_list
from xrec_bench.errors import UserError
from xrec_bench.records import DatasetSplits, InteractionGraph, Record
from xrec_bench.registry import datasets

REQUIRED_COLUMNS = ("uid", "iid", "title", "user_summary", "item_summary", "explanation")
RELEASED_FILES = ("tst_pred.pkl", "tst_ref.pkl")


def records_from_frame(dataset: str, frame, path) -> list[Record]:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks the columns {', '.join(missing)} of the XRec release format.")
    return [
        Record(f"{dataset}:{index}", int(uid), int(iid), str(title), str(user), str(item), str(expl))
        for index, uid, iid, title, user, item, expl in zip(
            frame.index, frame.uid, frame.iid, frame.title, frame.user_summary, frame.item_summary,
            frame.explanation)
    ]


def load_split(dataset: str, file: str) -> list[Record]:
    path = ensure_file(dataset, file)
    return records_from_frame(dataset, load_dataframe(path), path)


def _edges_from_csv(dataset: str, file: str) -> np.ndarray:
    import pandas as pd

    path = ensure_file(dataset, file)
    try:
        frame = pd.read_csv(path, usecols=["user", "item"])
    except ValueError as exc:
        raise UserError(f"{path} is not an interactions CSV with user,item columns ({exc}).") from None
    return frame[["user", "item"]].to_numpy(dtype=np.int64)


def _edges_from_neighbours(neighbours: list[list[int]]) -> np.ndarray:
    pairs = [(user, item) for user, items in enumerate(neighbours) for item in items]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def graph_files(dataset: str) -> tuple[str, ...]:
    """The files ``load_graph`` reads."""
    return ("para_dict.pickle",) if dataset == "amazon" else ("total_trn.csv", "total_val.csv", "total_tst.csv")


def files_read(dataset: str, split_files: tuple[str, ...], *, graph: bool, released: bool) -> list[str]:
    """The release files a load reads: ``split_files``, plus the graph's and the released pairs' where asked."""
    return [*split_files, *(graph_files(dataset) if graph else ()), *(RELEASED_FILES if released else ())]


def load_graph(dataset: str) -> InteractionGraph:
    """Training interactions (plus validation/test ones), with user and item counts."""
    if dataset == "amazon":  # its total_trn.csv is not public outside Git LFS; para_dict has the same edges
        params = load_pickle(ensure_file(dataset, "para_dict.pickle"))
        return InteractionGraph(
            int(params["user_num"]), int(params["item_num"]),
            _edges_from_neighbours(params["trn_user_nb"]),
            _edges_from_neighbours(params["val_user_nb"]),
            _edges_from_neighbours(params["tst_user_nb"]))
    train, valid, test = (_edges_from_csv(dataset, file) for file in graph_files(dataset))
    stacked = np.concatenate([train, valid, test])
    return InteractionGraph(int(stacked[:, 0].max()) + 1, int(stacked[:, 1].max()) + 1, train, valid, test)


def load_released(dataset: str, test: list[Record]) -> list[Record]:
    """The released predictions, each paired with its released reference (same order, as published).

    Each pair gets the uid/iid of the ``tst.pkl`` record whose explanation equals the reference,
    where exactly one does; the rest keep uid/iid -1 and ``meta["matched"] = False``.
    """
    predictions, references = (load_string_list(ensure_file(dataset, file)) for file in RELEASED_FILES)
    if len(predictions) != len(references):
        raise UserError(f"{dataset}: tst_pred.pkl has {len(predictions)} entries but tst_ref.pkl has "
                        f"{len(references)}; re-fetch the dataset.")
    counts = Counter(r.explanation for r in test)
    by_text = {r.explanation: r for r in test if counts[r.explanation] == 1}
    released = []
    for position, (prediction, reference) in enumerate(zip(predictions, references)):
        match = by_text.get(reference)
        meta = {"released_prediction": prediction, "released_position": position, "matched": match is not None}
        if match is not None:
            released.append(Record(match.sample_id, match.uid, match.iid, match.title, match.user_profile,
                                   match.item_profile, reference, meta))
        else:
            released.append(Record(f"{dataset}:released-{position}", -1, -1, "", "", "", reference, meta))
    return released


def load_release(dataset: str, item_word: str, *, need_train: bool = True,
                 need_released: bool = False) -> DatasetSplits:
    test = load_split(dataset, "tst.pkl")
    train = load_split(dataset, "trn.pkl") if need_train else []
    valid = load_split(dataset, "val.pkl") if need_train else []
    graph = load_graph(dataset) if need_train else None
    released = load_released(dataset, test) if need_released else None
    splits = DatasetSplits(dataset, train, valid, test, graph, card={}, released=released, item_word=item_word)
    read = files_read(dataset, ("tst.pkl", "trn.pkl", "val.pkl") if need_train else ("tst.pkl",),
                      graph=need_train, released=need_released)
    splits.card = build_card(splits, release_dataset=dataset, files_read=read, note="The official XRec split.")
    return splits


class ReleaseDataset:
    """A full XRec dataset (needs trn.pkl / val.pkl from the Git LFS release to train)."""

    def __init__(self, release: str, item_word: str):
        self.release = release
        self.item_word = item_word

    def load(self, *, need_train: bool = True, need_released: bool = False) -> DatasetSplits:
        return load_release(self.release, self.item_word, need_train=need_train, need_released=need_released)

    def card(self) -> dict[str, Any]:
        # Without the Git LFS training files: the card of the public test split and released pairs.
        return self.load(need_train=False, need_released=True).card


# The XRec releases: folder -> (what it is, what XRec's prompts call its items).
RELEASES = {"amazon": ("Amazon-books", "book"), "google": ("Google-reviews", "business"),
            "yelp": ("Yelp", "business")}

for _release, (_what, _item_word) in RELEASES.items():
    datasets.add(_release, ReleaseDataset(_release, _item_word),
                 summary=f"{_what}, the official XRec splits (training needs the Git LFS trn.pkl/val.pkl)")
