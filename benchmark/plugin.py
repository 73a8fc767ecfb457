"""The method and metric contracts that every plugin implements, and the context they receive."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

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


Level = Literal["sample", "corpus"]
LEVELS: tuple[Level, ...] = ("sample", "corpus")


@dataclass(frozen=True)
class ValueSpec:
    """What one reported value of a metric is, declared once in ``Metric.values``.

    ``level``: ``"sample"`` for a mean over per-sample scores (reported with its std over samples),
    ``"corpus"`` for one number computed over the whole corpus (BLEU, distinct-n, USR).
    ``higher_is_better``: the direction a leaderboard ranks by; None for a value with no better
    direction (a length).
    """

    level: Level
    higher_is_better: bool | None = True

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"a metric value's level is 'sample' or 'corpus', not {self.level!r}")


@dataclass(kw_only=True)
class MetricResult:
    """One reported value of a metric (a metric family may report several: P, R, F1...).

    Built from the value's declaration (``declared=SomeMetric.values[name]``), which fixes its
    ``level`` and ``higher_is_better``; a result cannot state them otherwise.
    """

    declared: InitVar[ValueSpec]
    value: float | None
    std: float | None = None  # over samples (the XRec paper's "stability"); None for corpus-level values
    n: int
    per_sample: list[float | None] | None = None
    config: dict[str, Any]  # everything that changes the number: model, layer, baseline, judge...
    status: str = "ok"  # "ok" or "skipped"
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. retries, unparseable replies, CI
    higher_is_better: bool | None = field(init=False)
    level: Level = field(init=False)

    def __post_init__(self, declared: ValueSpec) -> None:
        self.higher_is_better = declared.higher_is_better
        self.level = declared.level

    @classmethod
    def skipped(cls, reason: str, config: dict[str, Any], *, declared: ValueSpec,
                per_sample: list[float | None] | None = None, extra: dict[str, Any] | None = None) -> MetricResult:
        """A value the metric could not compute here, and why (one sentence)."""
        return cls(declared=declared, value=None, n=0, per_sample=per_sample, config=config, status="skipped",
                   reason=reason, extra=dict(extra or {}))


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
    # The settings that take one of a few named values: a dotted path inside ``defaults`` ("precision",
    # "lightgcn.negatives") → the allowed values. config.resolve refuses any other value before a run starts.
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}
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
        """Write the learned state (safetensors + JSON, never pickled modules) into ``directory``.

        A method with ``needs_training`` must implement ``save`` and ``load`` (the registry refuses
        one that does not): a resumed run or another shard loads the saved model instead of fitting.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement save")

    def load(self, directory: Path, ctx: RunContext) -> None:
        """Read what ``save`` wrote into this fresh instance, placing the model on ``ctx.device``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement load")


class Metric:
    """A metric family. Subclasses register with ``@metrics.register(name, summary=...)``.

    ``values`` declares every value the family reports, in report order, with its level and
    direction: ``score`` returns one MetricResult per declared name, each built with
    ``declared=self.values[name]``.
    """

    name: str = ""
    summary: str = ""
    values: ClassVar[dict[str, ValueSpec]] = {}
    defaults: dict[str, Any] = {}
    profiles: dict[str, dict[str, Any]] = {}
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {}  # as Method.choices, checked under metrics.<name>

    def __init__(self, config: dict[str, Any]):
        # The defaults table is the one place a setting's default lives: a resolved config already holds
        # every key, and a partial one (a library caller's) is completed from it, so no caller re-states one.
        self.config = {**self.defaults, **config}

    def score(self, predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext) -> dict[str, MetricResult]:
        """Score aligned predictions and references; one MetricResult per declared value name.

        Raise ``xrec_bench.errors.MetricUnavailable(reason)`` when the metric cannot run here.
        """
        raise NotImplementedError

    @classmethod
    def skipped(cls, reason: str, config: dict[str, Any]) -> dict[str, MetricResult]:
        """Every declared value, skipped for ``reason`` (what the runner records on MetricUnavailable)."""
        return {name: MetricResult.skipped(reason, config, declared=spec) for name, spec in cls.values.items()}


@runtime_checkable
class Dataset(Protocol):
    """A registered dataset: ``xrec_bench.registry.datasets.add(name, dataset, summary=...)`` in one
    module of ``xrec_bench.data`` (or a package's ``xrec_bench.datasets`` entry point).

    Everything the CLI, the config and the methods need about a dataset comes from this object,
    never from its name.
    """

    # The folder of release files it reads (``<data root>/<release>/``, fetched and verified
    # against the manifest by ``xrec-bench data fetch``).
    release: str
    # What its items are called in prompts ("book", "business"); DatasetSplits.item_word carries it.
    item_word: str

    def load(self, *, need_train: bool = True, need_released: bool = False) -> DatasetSplits:
        """The splits (train / valid / test, graph, released pairs where asked), with their card;
        only the files the run needs are read (and fetched when missing)."""
        ...

    def card(self) -> dict[str, Any]:
        """The dataset card (sizes, coverage, overlap, checksums) from the files available here."""
        ...


def _overrides(cls: type, base: type, attribute: str) -> bool:
    return getattr(cls, attribute) is not getattr(base, attribute)


def check_method(obj: Any) -> None:
    """The registry's check of a method plugin; raises TypeError naming what is wrong."""
    if not (isinstance(obj, type) and issubclass(obj, Method)):
        raise TypeError(f"a method plugin is a subclass of xrec_bench.plugin.Method, not {obj!r}")
    if not _overrides(obj, Method, "explain"):
        raise TypeError(f"method {obj.__name__} does not implement explain(records, ctx)")
    if obj.needs_training:
        missing = [name for name in ("fit", "save", "load") if not _overrides(obj, Method, name)]
        if missing:
            raise TypeError(f"method {obj.__name__} trains (needs_training=True) but does not implement "
                            f"{', '.join(missing)}: a resumed or sharded run loads the saved model, so it "
                            f"must save and load what fit learned")


def check_metric(obj: Any) -> None:
    """The registry's check of a metric plugin; raises TypeError naming what is wrong."""
    if not (isinstance(obj, type) and issubclass(obj, Metric)):
        raise TypeError(f"a metric plugin is a subclass of xrec_bench.plugin.Metric, not {obj!r}")
    if not obj.values or not all(isinstance(spec, ValueSpec) for spec in obj.values.values()):
        raise TypeError(f"metric {obj.__name__} must declare values = {{name: ValueSpec(level, higher_is_better)}}")
    legacy = [name for name in ("level", "value_names", "higher_is_better") if hasattr(obj, name)]
    if legacy:
        raise TypeError(f"metric {obj.__name__} sets {', '.join(legacy)}; declare each value's level and "
                        f"direction in values instead")


def check_dataset(obj: Any) -> None:
    """The registry's check of a dataset plugin; raises TypeError naming what is wrong."""
    if not isinstance(obj, Dataset):
        raise TypeError(f"a dataset plugin has release, item_word, load() and card() (xrec_bench.plugin.Dataset); "
                        f"{obj!r} does not")
    for attribute in ("release", "item_word"):
        if not isinstance(getattr(obj, attribute), str) or not getattr(obj, attribute):
            raise TypeError(f"dataset {obj!r}: {attribute} must be a non-empty string")
