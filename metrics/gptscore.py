"""GPTScore in XRec's sense: an LLM judge scores each explanation against its reference from 0 to 100.

The system prompt and the user message (``{"prediction": ..., "reference": ...}`` as ``json.dumps``
writes it) are XRec's, verbatim. The judge is a pluggable backend (``metrics.judges``): any
OpenAI-compatible chat endpoint, or a local Hugging Face model. Replies are parsed as a number in
[0, 100]; an unparseable or out-of-range reply is re-asked a bounded number of times and then
counted in the result, never dropped silently. Every parsed reply is cached on disk by content, so
a rerun or a resumed run repeats no call.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xrec_bench.errors import MetricUnavailable
from xrec_bench.files import config_hash
from xrec_bench.line_files import split_lines
from xrec_bench.metrics.judges import BACKENDS
from xrec_bench.metrics.judges.redaction import redact
from xrec_bench.metrics.per_sample import summarise
from xrec_bench.plugin import Metric, MetricResult, RunContext, ValueSpec
from xrec_bench.registry import metrics

# XRec's evaluation/system_prompt.txt, verbatim (the file has no trailing newline).
SYSTEM_PROMPT = (
    "Score the given explanation against the ground truth on a scale from 0 to 100, focusing on the "
    "alignment of meanings rather than the formatting.\n"
    "Provide your score as a number and do not provide any other text."
)
PROMPT_SHA256 = hashlib.sha256(SYSTEM_PROMPT.encode("utf-8")).hexdigest()
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")

HOW_TO_CONFIGURE = (
    "GPTScore needs a judge: set metrics.gptscore.judge=openai with metrics.gptscore.model=<model> "
    "(and metrics.gptscore.base_url=<OpenAI-compatible URL such as a vLLM server>, the key in the "
    "environment variable named by metrics.gptscore.api_key_env), or metrics.gptscore.judge=hf with "
    "metrics.gptscore.model=<local model directory>."
)


def conversation(prediction: str, reference: str) -> list[dict[str, str]]:
    """The chat messages XRec sends for one pair."""
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": json.dumps({"prediction": prediction, "reference": reference})}]


def parse_score(reply: str | None) -> float | None:
    """The judge's number if the reply is one number in [0, 100] (alone, or the only number in it)."""
    if reply is None:
        return None
    text = reply.strip().rstrip(".").strip()
    try:
        value = float(text)
    except ValueError:
        found = _NUMBER.findall(text)
        if len(found) != 1:
            return None
        value = float(found[0])
    if not math.isfinite(value) or not 0.0 <= value <= 100.0:
        return None
    return value


class JudgeCache:
    """Parsed judge replies, one JSON line each, keyed by the hash of everything that shapes the reply."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._scores: dict[str, float] = {}
        if path.is_file():
            for line in split_lines(path.read_text(encoding="utf-8")):
                try:
                    row = json.loads(line)
                    self._scores[row["key"]] = float(row["score"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by an interrupted run

    @staticmethod
    def key(identity: dict[str, Any], messages: list[dict[str, str]], sample: int) -> str:
        return config_hash({"judge": identity, "messages": messages, "sample": sample})

    def get(self, key: str) -> float | None:
        return self._scores.get(key)

    def put(self, key: str, score: float, reply: str) -> None:
        with self._lock:
            self._scores[key] = score
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"key": key, "score": score, "reply": reply}) + "\n")


@metrics.register("gptscore", summary="XRec's GPTScore: an LLM judge scores explanation vs reference, 0-100")
class GPTScore(Metric):
    values = {"gptscore": ValueSpec("sample")}
    choices = {"judge": (None, *BACKENDS)}  # null: no judge configured, so the metric is skipped
    defaults = {
        "judge": None,  # "openai" (any OpenAI-compatible chat endpoint) or "hf" (local transformers model)
        "model": None,
        "base_url": "https://api.openai.com/v1",
        "api_key_env": "OPENAI_API_KEY",  # the name of the variable, never the key
        "samples": 1,  # judge samples per pair, averaged
        "temperature": 0.0,
        "max_tokens": 8,
        "seed": 0,
        "concurrency": 8,
        "timeout_s": 60.0,
        "max_retries": 5,  # per request, on 429 / 5xx / timeouts, with exponential backoff
        "backoff_s": 1.0,
        "max_reasks": 3,  # per sample, on unparseable or out-of-range replies
        "max_consecutive_failures": 20,  # failed requests in a row (all workers) before the judge is given up
        "deadline_s": 1800.0,  # the whole scoring's time budget; past it the metric is skipped
        "batch_size": 8,  # hf judge
    }
    # XRec's evaluation/metrics.py calls gpt-3.5-turbo with nothing but the messages, so the API's
    # defaults apply: temperature 1.0 and no token limit. The paper profile sends the same; the
    # lenient parser, the re-asks and the seed stay (each recorded in the result's config / extra).
    profiles = {"cpu": {}, "paper": {"judge": "openai", "model": "gpt-3.5-turbo", "temperature": 1.0,
                                     "max_tokens": None}}

    def score(self, predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext) -> dict[str, MetricResult]:
        from xrec_bench.metrics.judges import build_judge

        if not self.config.get("judge"):
            raise MetricUnavailable(f"No GPTScore judge is configured. {HOW_TO_CONFIGURE}")
        judge = build_judge(self.config, ctx)
        identity = {**judge.identity(), "seed": int(self.config["seed"])}
        config = {**identity, "prompt_sha256": PROMPT_SHA256, "samples": int(self.config["samples"])}
        cache = JudgeCache(Path(ctx.cache_dir) / "gptscore" / f"{_short_hash(identity)}.jsonl")
        scores, counts = self._judge_all(judge, identity, cache, predictions, references)
        per_pair = [sum(found) / len(found) if found else None for found in scores]
        parsed = [value for value in per_pair if value is not None]
        extra = {"unparseable": counts["unparseable"], "reasks": counts["reasks"], "calls": counts["calls"],
                 "retries": judge.retries, "cached": counts["cached"],
                 "unparseable_examples": counts["unparseable_examples"]}
        if not parsed:
            return {"gptscore": MetricResult.skipped("the judge gave no parseable score for any pair", config,
                                                     declared=self.values["gptscore"], per_sample=per_pair,
                                                     extra=extra)}
        result = summarise(parsed, config, declared=self.values["gptscore"], extra=extra)
        result.per_sample = per_pair  # aligned with the predictions; None where every reply was unparseable
        return {"gptscore": result}

    def _judge_all(self, judge, identity, cache: JudgeCache, predictions, references):
        samples = int(self.config["samples"])
        scores: list[list[float]] = [[] for _ in predictions]
        counts = {"unparseable": 0, "reasks": 0, "calls": 0, "cached": 0}
        pending = []  # (pair index, sample index, messages, cache key)
        for index, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
            messages = conversation(prediction, reference)
            for sample in range(samples):
                key = cache.key(identity, messages, sample)
                cached = cache.get(key)
                if cached is not None:
                    scores[index].append(cached)
                    counts["cached"] += 1
                else:
                    pending.append((index, sample, messages, key))
        lock = threading.Lock()
        # The last reply of each request still unparseable, so a user sees what the judge said.
        last_unparseable: dict[tuple[int, int], str] = {}
        # What a judge returns may echo the request (a proxy's error page): no secret is ever stored.
        scrub = getattr(judge, "redact", None) or redact
        for attempt in range(int(self.config["max_reasks"]) + 1):
            if not pending:
                break
            if attempt:
                counts["reasks"] += len(pending)
            failed: list[tuple] = []

            def on_reply(position: int, reply: str, batch=pending, failed=failed) -> None:
                index, sample, _, key = batch[position]
                reply = scrub(reply)
                value = parse_score(reply)
                with lock:
                    counts["calls"] += 1
                    if value is None:
                        failed.append(batch[position])
                        last_unparseable[(index, sample)] = reply[:80]
                        return
                    last_unparseable.pop((index, sample), None)
                    scores[index].append(value)
                cache.put(key, value, reply)

            # A re-ask draws with another seed, so a sampling judge need not repeat its bad reply.
            base_seed = int(self.config["seed"]) + attempt * 100_003
            judge.complete([messages for _, _, messages, _ in pending],
                           [base_seed + sample for _, sample, _, _ in pending], on_reply)
            pending = sorted(failed, key=lambda item: (item[0], item[1]))
        counts["unparseable"] = len(pending)
        counts["unparseable_examples"] = [last_unparseable[(index, sample)] for index, sample, _, _ in pending][:3]
        return scores, counts


def _short_hash(identity: dict[str, Any]) -> str:
    return config_hash(identity, 16)
