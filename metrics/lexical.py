"""The classic word-overlap metrics of the PETER/PEPLER line: BLEU-1/4, ROUGE-1/2/L, distinct-1/2, length.

Definitions follow the TF-NMT ``bleu.py`` / ``rouge.py`` that every lileipisces repository ships
(compared line by line in docs/fidelity.md, section Metrics), on text lowercased and tokenised with
PEPLER's evaluation regex:

- ``bleu1`` / ``bleu4``: corpus BLEU, one reference per hypothesis, clipped n-gram counts,
  p_n = matches / Σ max(0, len(hyp) − n + 1), uniform geometric mean of p_1..p_N (N = 1 or 4), no
  smoothing (any p_n = 0 gives 0), brevity penalty exp(1 − r/c) when c ≤ r; ×100. Computed by
  sacrebleu, whose corpus BLEU with ``tokenize="none"`` and ``smooth_method="none"`` is exactly this
  definition (and returns 0 instead of dividing by zero when every hypothesis is empty).
- ``rouge{1,2}_{p,r,f}``: per pair, over SETS of unique n-grams: P = |overlap| / |hyp n-grams| (0 if
  none), R = |overlap| / |ref n-grams| (0 if none), F = 2PR / (P + R + 1e-8); averaged; ×100.
- ``rougeL_{p,r,f}``: per pair, LCS length ℓ over tokens, R = ℓ/m, P = ℓ/n, β = P / (R + 1e-12),
  F = (1 + β²)RP / (R + β²P + 1e-12); averaged; ×100. An empty text counts as one empty token, as in
  TF-NMT's ``split(" ")``, so nothing divides by zero.
- ``distinct1`` / ``distinct2``: distinct n-grams / all n-grams over all predictions (ratio, not ×100).
- ``mean_length``: mean number of whitespace words of the raw predictions (the unit of the published
  XRec lengths 51.5 / 40.7 / 29.4), std over samples.

ROUGE is written here because rouge-score counts n-grams with multiplicity (not sets), applies its
own tokeniser, and uses β = 1 for ROUGE-L; nltk's corpus_bleu is not used because it counts a
hypothesis shorter than n as one possible n-gram (max(1, ·)) and replaces a zero p_n by a tiny float.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

from xrec_bench.errors import UserError
from xrec_bench.metrics.per_sample import summarise
from xrec_bench.plugin import Metric, MetricResult, RunContext, ValueSpec
from xrec_bench.registry import metrics
from xrec_bench.tokenization import pepler_tokenize

TOKENIZER = "pepler-eval-regex"
SCALE = 100.0

def corpus_bleu(hypotheses: Sequence[list[str]], references: Sequence[list[str]], max_order: int) -> float:
    """TF-NMT corpus BLEU ×100 (single reference, no smoothing) of token lists, through sacrebleu."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU(tokenize="none", smooth_method="none", max_ngram_order=max_order, force=True)
    return bleu.corpus_score([" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]]).score


def _ngram_set(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def rouge_n(hypothesis: list[str], reference: list[str], n: int) -> tuple[float, float, float]:
    """TF-NMT ROUGE-N (P, R, F) of one pair over sets of unique n-grams, as fractions."""
    hyp, ref = _ngram_set(hypothesis, n), _ngram_set(reference, n)
    overlap = len(hyp & ref)
    precision = overlap / len(hyp) if hyp else 0.0
    recall = overlap / len(ref) if ref else 0.0
    return precision, recall, 2.0 * ((precision * recall) / (precision + recall + 1e-8))


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence, bit-parallel (Hyyrö 2004): O(len(a)·len(b)/word)."""
    match_masks: dict[str, int] = {}
    for position, token in enumerate(b):
        match_masks[token] = match_masks.get(token, 0) | (1 << position)
    full = (1 << len(b)) - 1
    row = full
    for token in a:
        matched = row & match_masks.get(token, 0)
        row = ((row + matched) | (row - matched)) & full
    return len(b) - row.bit_count()


def rouge_l(hypothesis: list[str], reference: list[str]) -> tuple[float, float, float]:
    """TF-NMT sentence-level ROUGE-L (P, R, F) with β = P / R, as fractions."""
    lcs = lcs_length(hypothesis, reference)
    recall = lcs / len(reference)
    precision = lcs / len(hypothesis)
    beta = precision / (recall + 1e-12)
    numerator = (1 + beta ** 2) * recall * precision
    denominator = recall + (beta ** 2) * precision
    return precision, recall, numerator / (denominator + 1e-12)


def distinct_n(hypotheses: Sequence[list[str]], n: int) -> tuple[int, int]:
    """(distinct n-grams, all n-grams) over every hypothesis of the corpus."""
    counts: Counter[tuple[str, ...]] = Counter()
    for words in hypotheses:
        counts.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return len(counts), sum(counts.values())


ROUGE_VALUES = tuple(f"rouge{kind}_{part}" for kind in ("1", "2", "L") for part in ("p", "r", "f"))
CORPUS = ValueSpec("corpus")
SAMPLE = ValueSpec("sample")


@metrics.register("lexical", summary="BLEU-1/4, ROUGE-1/2/L P/R/F (PETER/PEPLER definitions), distinct-1/2, "
                                     "mean length")
class LexicalOverlap(Metric):
    """Word-overlap metrics of the PETER/PEPLER line on lowercased, PEPLER-tokenised text.

    BLEU and distinct-n are corpus-level numbers; ROUGE and the mean length are means over pairs.
    """

    values: ClassVar[dict[str, ValueSpec]] = {
        "bleu1": CORPUS, "bleu4": CORPUS, **dict.fromkeys(ROUGE_VALUES, SAMPLE),
        "distinct1": CORPUS, "distinct2": CORPUS,
        "mean_length": ValueSpec("sample", higher_is_better=None),  # longer is not better, nor shorter
    }
    defaults: ClassVar[dict[str, Any]] = {"lowercase": True}

    def score(self, predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext) -> dict[str, MetricResult]:
        if len(predictions) != len(references):
            raise UserError(f"{len(predictions)} predictions but {len(references)} references; "
                            f"give one reference per prediction.")
        if not predictions:
            raise UserError("The lexical metrics need at least one prediction; the predictions are empty.")
        lowercase = bool(self.config["lowercase"])
        config = {"tokenizer": TOKENIZER, "lowercase": lowercase, "scale": SCALE}
        hyps = [pepler_tokenize(text, lowercase) for text in predictions]
        refs = [pepler_tokenize(text, lowercase) for text in references]
        n = len(hyps)

        def corpus(name: str, value: float, value_config: dict) -> MetricResult:
            return MetricResult(declared=self.values[name], value=value, n=n, config=value_config)

        def sample(name: str, values: list[float], value_config: dict) -> MetricResult:
            return summarise(values, value_config, declared=self.values[name])

        results = {f"bleu{order}": corpus(f"bleu{order}", corpus_bleu(hyps, refs, order), dict(config))
                   for order in (1, 4)}
        # TF-NMT splits the joined text on " ", so an empty text is one empty token.
        pairs = [(h or [""], r or [""]) for h, r in zip(hyps, refs)]
        per_pair = [(*rouge_n(h, r, 1), *rouge_n(h, r, 2), *rouge_l(h, r)) for h, r in pairs]
        for column, name in enumerate(ROUGE_VALUES):
            results[name] = sample(name, [SCALE * row[column] for row in per_pair], dict(config))

        distinct_config = {"tokenizer": TOKENIZER, "lowercase": lowercase}
        for order in (1, 2):
            unique, total = distinct_n(hyps, order)
            name = f"distinct{order}"
            results[name] = (corpus(name, unique / total, dict(distinct_config)) if total else MetricResult.skipped(
                f"the predictions contain no {order}-grams, so distinct-{order} is undefined",
                dict(distinct_config), declared=self.values[name]))
        results["mean_length"] = sample("mean_length", [float(len(text.split())) for text in predictions],
                                        {"unit": "whitespace words"})
        return results
