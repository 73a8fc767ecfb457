"""The method and metric contracts that every plugin implements, and the context they receive."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xrec_bench.records import DatasetSplits, Record

if TYPE_CHECKING:
    from typing_extensions import Self


def _no_progress(iterable: Iterable, **_: Any) -> Iterable:
    from xrec_bench.progress import SilentProgress

    return SilentProgress(iterable)  # iterable, with report(loss=..., lr=...) that shows nothing


@dataclass
class RunContext:
    """What the runner hands a method or metric: where to compute, how to report, where to cache."""

    device: str = "cpu"
    seed: int = 0
    config: dict[str, Any] = field(default_factory=dict)  # the whole resolved run config
    scratch_dir: Path = Path(".")  # private to this run (checkpoints, temporary files)
    cache_dir: Path = Path(".")  # shared across runs, content-keyed (graph embeddings, judge replies)
    # progress(iterable, total=..., desc=...) wraps a loop in a progress bar (tqdm when enabled); what it
    # returns also has report(loss=..., lr=...) to show a training loop's latest values (xrec_bench.progress).
    progress: Callable[..., Iterable] = _no_progress
    shard: tuple[int, int] | None = None  # (index, count), 1-based index


@dataclass
class MetricResult:
    """One reported value of a metric (a metric family may report several: P, R, F1...)."""

    value: float | None
    std: float | None  # over samples (the XRec paper's "stability"); None for corpus-level values
    n: int
    per_sample: list[float] | None
    config: dict[str, Any]  # everything that changes the number: model, layer, baseline, judge...
    higher_is_better: bool | None = True
    level: str = "sample"  # "sample" or "corpus"
    status: str = "ok"  # "ok" or "skipped"
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. retries, unparseable replies, CI

    @classmethod
    def skipped(cls, reason: str, config: dict[str, Any], *, higher_is_better: bool | None = True,
                level: str = "sample") -> MetricResult:
        return cls(None, None, 0, None, config, higher_is_better, level, "skipped", reason)


class Explanation(str):
    """An explanation that also says how it was decoded. It is a ``str``, so a method may return these
    or plain strings from ``explain``.

    ``decoding`` holds ``new_tokens`` (tokens generated, the end-of-turn token included) and ``stop``:
    ``"eos"`` when the model ended its turn, ``"max_new_tokens"`` when the token cap cut it off. The
    runner keeps it beside the prediction and summarises it in result.json (``method.generation``).
    """

    decoding: dict[str, Any]

    def __new__(cls, text: str, decoding: dict[str, Any] | None = None) -> Self:
        explanation = super().__new__(cls, text)
        explanation.decoding = dict(decoding or {})
        return explanation


class Method:
    """An explanation generator. Subclasses register with ``@methods.register(name, summary=...)``.

    Keep the defining module light (no torch at import time) so that listing plugins stays fast.
    """

    name: str = ""
    summary: str = ""
    version: str = "1"
    needs_training: bool = True
    # Which split of DatasetSplits the runner explains: "test", or "released" for the replay of
    # the published XRec predictions.
    test_split: str = "test"
    defaults: dict[str, Any] = {}
    profiles: dict[str, dict[str, Any]] = {}  # overrides per profile name ("cpu", "paper")
    # How the runner batches ``explain``: it sorts the whole test set once by (batch_key, sample id),
    # cuts it into batches of ``explain_batch_size`` records, and hands ``explain`` whole batches only
    # (one or more per call, in that order), so no prediction depends on runtime.explain_chunk, the
    # shard count or where a run was resumed. A method that batches inside ``explain`` sets this
    # (a class attribute, or an instance attribute/property read from its config after __init__) to
    # its batch size and keeps the order it is given; 1 means every record is explained on its own.
    explain_batch_size: int = 1

    def __init__(self, config: dict[str, Any]):
        self.config = config

    def batch_key(self, record: Record) -> Any:
        """What batches are sorted by (ties go by sample id): the length of the prompt's text fields.

        Override it with the method's own length (e.g. prompt tokens) if it pads batches by that.
        """
        return len(record.title) + len(record.user_profile) + len(record.item_profile)

    def fit(self, splits: DatasetSplits, ctx: RunContext) -> dict[str, Any] | None:
        """Learn from ``splits.train`` / ``splits.valid``; return the training report.

        The report lands in result.json under ``training``: ``history`` (a list of dicts with
        ``epoch`` or ``step``, ``train_loss``, ``valid_loss``), ``stopped_epoch``, and any extras.
        """
        return None

    def explain(self, records: Sequence[Record], ctx: RunContext) -> list[str]:
        """One explanation per record (records carry no reference): a ``str`` or an ``Explanation``."""
        raise NotImplementedError

    def save(self, directory: Path) -> None:
        """Write the learned state (safetensors + JSON, never pickled modules)."""

    def load(self, directory: Path) -> None:
        """Read what ``save`` wrote."""


class Metric:
    """A metric family. Subclasses register with ``@metrics.register(name, summary=...)``."""

    name: str = ""
    summary: str = ""
    level: str = "sample"
    value_names: tuple[str, ...] = ()
    higher_is_better: dict[str, bool | None] = {}  # per value name; missing means True
    defaults: dict[str, Any] = {}
    profiles: dict[str, dict[str, Any]] = {}

    def __init__(self, config: dict[str, Any]):
        self.config = config

    def score(self, predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext) -> dict[str, MetricResult]:
        """Score aligned predictions and references; one MetricResult per value name.

        Raise ``xrec_bench.errors.MetricUnavailable(reason)`` when the metric cannot run here.
        """
        raise NotImplementedError
