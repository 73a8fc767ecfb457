"""The data contracts shared by datasets, methods, metrics and the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Record:
    """One (user, item) pair with its profiles and, outside inference, its reference explanation."""

    sample_id: str
    uid: int
    iid: int
    title: str
    user_profile: str
    item_profile: str
    explanation: str | None = None
    # Free-form extras a dataset attaches (e.g. a released prediction); never read by metrics.
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def without_reference(self) -> Record:
        """The record as a method sees it at inference time: no reference explanation."""
        return Record(self.sample_id, self.uid, self.iid, self.title, self.user_profile,
                      self.item_profile, None, self.meta)


@dataclass
class InteractionGraph:
    """User-item interactions for collaborative filtering (training edges; valid/test for evaluation)."""

    num_users: int
    num_items: int
    train_edges: Any  # numpy int64 array of shape (E, 2): (user, item)
    valid_edges: Any | None = None
    test_edges: Any | None = None


@dataclass
class DatasetSplits:
    """What a dataset hands the runner: explanation splits, the interaction graph and a card."""

    name: str
    train: list[Record]
    valid: list[Record]
    test: list[Record]
    graph: InteractionGraph | None
    card: dict[str, Any]
    # The released XRec predictions paired with their released references (see `published`).
    released: list[Record] | None = None
    # What the dataset calls its items in prompts (its Dataset.item_word: "book", "business").
    item_word: str = "item"
