"""Hand-made runs with per-sample files, for the main-table, significance and browser tests."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

from xrec_bench.metrics.lexical import corpus_bleu
from xrec_bench.metrics.usr import unique_sentence_count
from xrec_bench.tokenization import pepler_tokenize

LEXICAL = {"tokenizer": "pepler-eval-regex", "lowercase": True, "scale": 100.0}
MINILM = {"model": "all-minilm-l6-v2", "num_layers": 6, "rescale": True}
WORDS = ("the", "food", "was", "great", "and", "the", "staff", "friendly", "nice", "place", "good", "price",
         "slow", "service", "tasty", "fresh", "pasta", "pizza", "coffee", "quiet", "cozy", "loud", "cheap")


def payload(family, value, std=None, *, config, level, higher=True, n=60, ci95=None):
    return {"metric": family, "value": value, "std": std, "n": n, "status": "ok", "reason": None,
            "config": config, "higher_is_better": higher, "level": level, "extra": {"ci95": ci95} if ci95 else {}}


def skipped(family, reason, *, config):
    return {"metric": family, "value": None, "std": None, "n": 0, "status": "skipped", "reason": reason,
            "config": config, "higher_is_better": True, "level": "sample", "extra": {}}


def references(n):
    rng = random.Random(1)
    return [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(n)]


def write_run(root: Path, method: str, seed: int, predictions: list[str], refs: list[str], bert: list[float],
              *, gz: bool = False, extra_metrics=None, dataset: str = "yelp-mini") -> Path:
    """A complete run whose result.json values are computed from its samples with the metrics' own functions."""
    n = len(refs)
    hyps = [pepler_tokenize(p, True) for p in predictions]
    toks = [pepler_tokenize(r, True) for r in refs]
    mean = sum(bert) / n
    std = (sum((b - mean) ** 2 for b in bert) / n) ** 0.5
    metrics = {
        "bertscore_f1": payload("bertscore", mean, std, config=MINILM, level="sample", n=n),
        "bleu4": payload("lexical", corpus_bleu(hyps, toks, 4), config=LEXICAL, level="corpus", n=n),
        "usr": payload("usr", unique_sentence_count(predictions) / n, config={"tokenizer": "whitespace"},
                       level="corpus", n=n),
        "bartscore": skipped("bartscore", "BART is not available offline. Put it in the cache.",
                             config={"model": "facebook/bart-large-cnn"}),
        **(extra_metrics or {}),
    }
    run_id = f"s{seed}-{method[:4]}"
    result = {
        "schema_version": 2, "run_id": run_id, "complete": True, "profile": "cpu", "seed": seed,
        "method": {"name": method, "version": "1", "config": {"name": method}},
        "dataset": {"name": dataset, "splits": {"test": n}, "test_split": "test", "n_scored": n,
                    "checksums": {"tst.pkl": "abc"}},
        "metrics": metrics, "training": None, "environment": {}, "timings_s": {}, "peak_memory_mb": {},
        "started_at": None, "created_at": "2026-12-01T00:00:00Z",
    }
    run_dir = root / dataset / method / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "result.json").write_text(json.dumps(result), encoding="utf-8")
    lines = "".join(json.dumps({"sample_id": f"t{i:04d}", "reference": r, "prediction": p,
                                "scores": {"bertscore_f1": b}}) + "\n"
                    for i, (r, p, b) in enumerate(zip(refs, predictions, bert)))
    if gz:
        (run_dir / "samples.jsonl.gz").write_bytes(gzip.compress(lines.encode("utf-8"), mtime=0))
    else:
        (run_dir / "samples.jsonl").write_text(lines, encoding="utf-8")
    return run_dir


def make_three_methods(root: Path, n: int = 60, *, seeds=(0, 1)) -> None:
    """good (copies most references), close (good with a few words changed), poor (random words).

    BERTScore per sample: good ≈ 0.6, close = good − 0.002 ± noise (not significantly worse), poor ≈ 0.2.
    """
    refs = references(n)
    for seed in seeds:
        rng = random.Random(100 + seed)
        good = [r if i % 3 else " ".join(rng.choice(WORDS) for _ in range(12)) for i, r in enumerate(refs)]
        close = [g if i % 2 else g.replace("the", "a", 1) for i, g in enumerate(good)]
        poor = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in refs]
        base = [0.6 + rng.uniform(-0.1, 0.1) for _ in refs]
        write_run(root, "good", seed, good, refs, base)
        write_run(root, "close", seed, close, refs, [b - 0.002 + rng.uniform(-0.05, 0.05) for b in base],
                  gz=True)
        write_run(root, "poor", seed, poor, refs, [0.2 + rng.uniform(-0.1, 0.1) for _ in refs])
