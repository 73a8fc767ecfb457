"""A judge behind any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp, Ollama).

Concurrency is a thread pool of ``concurrency`` workers; each request has a timeout and is retried
with exponential backoff (or the server's Retry-After) on 429, 5xx, timeouts and dropped
connections. The API key is read from the environment variable that ``api_key_env`` names, sent
only in the Authorization header, and scrubbed from every message this module raises.
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

from benchmark.errors import MetricUnavailable

OPENAI_HOST = "api.openai.com"
MAX_BACKOFF_S = 60.0


class OpenAIChatJudge:
    def __init__(self, config: dict[str, Any]):
        self.model = config.get("model")
        self.base_url = str(config.get("base_url") or "").rstrip("/")
        self.key_variable = config.get("api_key_env") or "OPENAI_API_KEY"
        self.temperature = float(config.get("temperature", 0.0))
        limit = config.get("max_tokens", 8)
        self.max_tokens = None if limit is None else int(limit)  # None: not sent (the API's own default)
        self.concurrency = max(1, int(config.get("concurrency", 8)))
        self.timeout_s = float(config.get("timeout_s", 60.0))
        self.max_retries = int(config.get("max_retries", 5))
        self.backoff_s = float(config.get("backoff_s", 1.0))
        self._key = os.environ.get(self.key_variable) or None
        self.retries = 0
        self._lock = threading.Lock()
        if not self.model or not self.base_url:
            raise MetricUnavailable("The openai GPTScore judge needs metrics.gptscore.model and "
                                    "metrics.gptscore.base_url (an OpenAI-compatible endpoint).")
        if self._key is None and urlparse(self.base_url).hostname == OPENAI_HOST:
            raise MetricUnavailable(f"The GPTScore judge {self.model} at {self.base_url} needs an API key in "
                                    f"the environment variable {self.key_variable}, which is not set.")

    def identity(self) -> dict[str, Any]:
        return {"judge": "openai", "model": self.model, "base_url": self.base_url,
                "temperature": self.temperature, "max_tokens": self.max_tokens}

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _post(self, body: dict[str, Any]) -> str:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode("utf-8"),
                                         headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return response.read().decode("utf-8", errors="replace")

    def ask(self, messages: list[dict[str, str]], seed: int) -> str:
        """One chat completion's text ("" when the body is not a chat completion: the caller re-asks)."""
        body = {"model": self.model, "messages": messages, "temperature": self.temperature, "seed": seed, "n": 1}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        problem = ""
        for attempt in range(self.max_retries + 1):
            wait_s = min(self.backoff_s * 2 ** attempt, MAX_BACKOFF_S)
            try:
                raw = self._post(body)
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
                try:
                    return str(json.loads(raw)["choices"][0]["message"]["content"] or "")
                except (ValueError, KeyError, IndexError, TypeError):
                    return ""
            if attempt < self.max_retries:
                with self._lock:
                    self.retries += 1
                time.sleep(wait_s)
        raise MetricUnavailable(self._redact(
            f"The GPTScore judge at {self.base_url} did not answer after {self.max_retries + 1} tries "
            f"(last: {problem}); check the server, or raise metrics.gptscore.max_retries / timeout_s."))

    def complete(self, conversations: list[list[dict[str, str]]], seeds: list[int],
                 on_reply: Callable[[int, str], None]) -> None:
        if not conversations:
            return
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self.ask, messages, seed): position
                       for position, (messages, seed) in enumerate(zip(conversations, seeds))}
            for future in as_completed(futures):
                problem = future.exception()
                if problem is not None:
                    for other in futures:
                        other.cancel()
                    raise problem
                on_reply(futures[future], future.result())
