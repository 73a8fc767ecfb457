"""USR and USN: how many distinct explanations a method writes (XRec's and PETER's diversity check).

A prediction is its sequence of whitespace tokens (``str.split()``, as XRec's evaluation script does);
two predictions are the same when those sequences are equal. USN is the number of distinct sequences,
USR = USN / N. The official implementation compares every prediction with every unique one so far
(quadratic); a set of token tuples gives the same count in linear time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from xrec_bench.errors import UserError
from xrec_bench.plugin import Metric, MetricResult, RunContext, ValueSpec
from xrec_bench.registry import metrics


def unique_sentence_count(predictions: Sequence[str]) -> int:
    """Number of distinct predictions, comparing whitespace-token sequences exactly."""
    return len({tuple(text.split()) for text in predictions})


@metrics.register("usr", summary="Unique sentence ratio (USR) and count (USN) of the predictions, corpus level")
class UniqueSentenceRatio(Metric):
    """Corpus-level diversity: ``usr`` (distinct / all, higher is better) and ``usn`` (the count)."""

    values: ClassVar[dict[str, ValueSpec]] = {"usr": ValueSpec("corpus"), "usn": ValueSpec("corpus")}
    defaults: ClassVar[dict[str, Any]] = {"tokenizer": "whitespace"}

    def score(self, predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext) -> dict[str, MetricResult]:
        if not predictions:
            raise UserError("USR needs at least one prediction; the predictions are empty.")
        if self.config["tokenizer"] != "whitespace":
            raise UserError(f"USR compares whitespace tokens only; remove metrics.usr.tokenizer="
                            f"{self.config['tokenizer']!r} from the config.")
        usn = unique_sentence_count(predictions)
        config = {"tokenizer": "whitespace"}
        n = len(predictions)
        return {
            "usr": MetricResult(declared=self.values["usr"], value=usn / n, n=n, config=dict(config)),
            "usn": MetricResult(declared=self.values["usn"], value=usn, n=n, config=dict(config)),
        }
