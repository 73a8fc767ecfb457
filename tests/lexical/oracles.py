"""Plain, slow restatements of the official definitions (TF-NMT bleu.py / rouge.py and the USR loop
of lileipisces' utils.py; docs/fidelity.md, Metrics), used as test oracles, and the released XRec
texts they are checked on.

Written from those definitions, not copied: the official USR loop, the textbook LCS table and the
TF-NMT corpus BLEU arithmetic, so that the fast implementations can be checked against them.
"""

from __future__ import annotations

import math
from collections import Counter

from xrec_bench.data.fetch import ensure_file
from xrec_bench.data.safe_pickle import load_string_list


def released_predictions(dataset: str) -> list[str]:
    """XRec's released test predictions (tst_pred.pkl; tests/conftest.py points the fetch at the mirror)."""
    return load_string_list(ensure_file(dataset, "tst_pred.pkl"))


def released_references(dataset: str) -> list[str]:
    """XRec's released references (tst_ref.pkl), in the same order as the predictions."""
    return load_string_list(ensure_file(dataset, "tst_ref.pkl"))


def official_unique_count(token_lists: list[list[str]]) -> int:
    """The official quadratic USN: compare each sentence with every unique one kept so far."""
    unique: list[list[str]] = []
    for tokens in token_lists:
        if not any(len(tokens) == len(kept) and all(a == b for a, b in zip(tokens, kept)) for kept in unique):
            unique.append(tokens)
    return len(unique)


def table_lcs(a: list[str], b: list[str]) -> int:
    """Textbook O(len(a)·len(b)) dynamic-programming LCS length."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def tfnmt_corpus_bleu(hypotheses: list[list[str]], references: list[list[str]], max_order: int) -> float:
    """Corpus BLEU ×100 as TF-NMT's compute_bleu defines it (single reference, no smoothing)."""
    matches = [0] * max_order
    possible = [0] * max_order
    hyp_length = ref_length = 0
    for hyp, ref in zip(hypotheses, references):
        hyp_length += len(hyp)
        ref_length += len(ref)
        for n in range(1, max_order + 1):
            hyp_counts = Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
            ref_counts = Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
            matches[n - 1] += sum((hyp_counts & ref_counts).values())
            possible[n - 1] += max(0, len(hyp) - n + 1)
    precisions = [m / p if p else 0.0 for m, p in zip(matches, possible)]
    if min(precisions) == 0:
        return 0.0
    geometric_mean = math.exp(sum(math.log(p) for p in precisions) / max_order)
    brevity = 1.0 if hyp_length > ref_length else math.exp(1 - ref_length / hyp_length)
    return 100 * geometric_mean * brevity
