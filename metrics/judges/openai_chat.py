"""A judge behind any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp, Ollama).

Concurrency is a thread pool of ``concurrency`` workers; each request has a timeout and is retried
with exponential backoff (or the server's Retry-After) on 429, 5xx, timeouts and dropped
connections. The API key is read from the environment variable that ``api_key_env`` names, sent
only in the Authorization header, and scrubbed from every message this module raises (and, through
``redact``, from every reply before GPTScore stores it).

Giving up is bounded: ``max_consecutive_failures`` failed requests in a row (across all workers)
trip a circuit breaker, and ``deadline_s`` caps the whole scoring; either stops every worker at
its next step (waits are interruptible, requests time out) and raises ``MetricUnavailable``.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any
from urllib.parse import urlparse

from xrec_bench.errors import MetricUnavailable
from xrec_bench.metrics.judges.redaction import redact

OPENAI_HOST = "api.openai.com"
MAX_BACKOFF_S = 60.0


class OpenAIChatJudge:
    def __init__(self, config: dict[str, Any]):
        self.model = config.get("model")
        self.base_url = str(config.get("base_url") or "").rstrip("/")
        self.key_variable = config.get("api_key_env") or "OPENAI_API_KEY"
        self.temperature = float(config["temperature"])
        limit = config["max_tokens"]
        self.max_tokens = None if limit is None else int(limit)  # None: not sent (the API's own default)
        self.concurrency = max(1, int(config["concurrency"]))
        self.timeout_s = float(config["timeout_s"])
        self.max_retries = int(config["max_retries"])
        self.backoff_s = float(config["backoff_s"])
        self.max_consecutive_failures = max(1, int(config.get("max_consecutive_failures") or 20))
        self.deadline_s = float(config.get("deadline_s") or 1800.0)
        self._deadline = time.monotonic() + self.deadline_s  # one budget for every call of this scoring
        self._key = os.environ.get(self.key_variable) or None
        self.retries = 0
        self._lock = threading.Lock()
        self._failures_in_a_row = 0
        self._stop = threading.Event()
        self._stop_reason = ""
        if not self.model or not self.base_url:
            raise MetricUnavailable("The openai GPTScore judge needs metrics.gptscore.model and "
                                    "metrics.gptscore.base_url (an OpenAI-compatible endpoint).")
        if self._key is None and urlparse(self.base_url).hostname == OPENAI_HOST:
            raise MetricUnavailable(f"The GPTScore judge {self.model} at {self.base_url} needs an API key in "
                                    f"the environment variable {self.key_variable}, which is not set.")

    def identity(self) -> dict[str, Any]:
        return {"judge": "openai", "model": self.model, "base_url": self.base_url,
                "temperature": self.temperature, "max_tokens": self.max_tokens}

    def redact(self, text: str) -> str:
        return redact(text, [self._key])

    _redact = redact

    def _give_up(self, reason: str) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._stop_reason = self._redact(reason)
                self._stop.set()

    def _check_budget(self) -> float:
        """Seconds left before the deadline; stops every worker once it has passed or the breaker tripped."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            self._give_up(f"The GPTScore judge at {self.base_url} did not finish within metrics.gptscore.deadline_s="
                          f"{self.deadline_s:g} s; raise deadline_s or check the server's speed.")
        if self._stop.is_set():
            raise MetricUnavailable(self._stop_reason)
        return left

    def _failed(self, problem: str) -> None:
        with self._lock:
            self._failures_in_a_row += 1
            tripped = self._failures_in_a_row >= self.max_consecutive_failures
        if tripped:
            self._give_up(f"The GPTScore judge at {self.base_url} failed {self.max_consecutive_failures} requests "
                          f"in a row (last: {problem}), so it was given up; check the server, or raise "
                          f"metrics.gptscore.max_consecutive_failures.")

    def _post(self, body: dict[str, Any], timeout_s: float | None = None) -> str:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode("utf-8"),
                                         headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s) as response:
            return response.read().decode("utf-8", errors="replace")

    def ask(self, messages: list[dict[str, str]], seed: int) -> str:
        """One chat completion's text ("" when the body is not a chat completion: the caller re-asks)."""
        body = {"model": self.model, "messages": messages, "temperature": self.temperature, "seed": seed, "n": 1}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        problem = ""
        for attempt in range(self.max_retries + 1):
            left = self._check_budget()
            wait_s = min(self.backoff_s * 2 ** attempt, MAX_BACKOFF_S)
            try:
                raw = self._post(body, max(0.05, min(self.timeout_s, left)))
            except urllib.error.HTTPError as exc:
                if exc.code != 429 and exc.code < 500:
                    raise MetricUnavailable(self._redact(
                        f"The GPTScore judge at {self.base_url} refused the request with HTTP {exc.code} "
                        f"({exc.reason}); check metrics.gptscore.model and the key in {self.key_variable}.")) from None
                problem = f"HTTP {exc.code}"
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    wait_s = min(float(retry_after), MAX_BACKOFF_S)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                problem = exc.__class__.__name__
            else:
                with self._lock:
                    self._failures_in_a_row = 0
                try:
                    return str(json.loads(raw)["choices"][0]["message"]["content"] or "")
                except (ValueError, KeyError, IndexError, TypeError):
                    return ""
            self._failed(problem)
            if attempt < self.max_retries:
                with self._lock:
                    self.retries += 1
                self._stop.wait(min(wait_s, max(0.0, self._check_budget())))
        raise MetricUnavailable(self._redact(
            f"The GPTScore judge at {self.base_url} did not answer after {self.max_retries + 1} tries "
            f"(last: {problem}); check the server, or raise metrics.gptscore.max_retries / timeout_s."))

    def complete(self, conversations: list[list[dict[str, str]]], seeds: list[int],
                 on_reply: Callable[[int, str], None]) -> None:
        if not conversations:
            return
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        futures = {pool.submit(self.ask, messages, seed): position
                   for position, (messages, seed) in enumerate(zip(conversations, seeds))}
        try:
            for future in as_completed(futures):
                problem = future.exception()
                if problem is not None:
                    raise problem
                on_reply(futures[future], future.result())
        except BaseException:
            # Stop the workers still asking (they see the event at their next step) and return now,
            # without waiting for requests in flight: each ends within its timeout.
            self._give_up(self._stop_reason or "GPTScore stopped asking the judge")
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
