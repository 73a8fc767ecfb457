"""A scripted OpenAI chat-completions server on loopback, for testing GPTScore's judge client for real."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedJudge:
    """Answers each prediction with its scripted score, after scripted misbehaviour.

    ``scores``: prediction → the number the judge replies. Per prediction, the first requests can be
    answered with HTTP 500 (``failures``), too slowly (``slow``, sleeping ``slow_s``), with a reply
    that is not a number (``garbage``), with a body that is not JSON (``broken_bodies``) or with a
    reply that echoes the request's Authorization header, as a careless proxy might (``echoes``).
    """

    def __init__(self, scores: dict[str, float], *, failures: int = 0, slow: int = 0, slow_s: float = 1.0,
                 garbage: int = 0, broken_bodies: int = 0, echoes: int = 0, status: int | None = None):
        self.scores = scores
        self.plan = {"failures": failures, "slow": slow, "garbage": garbage, "broken": broken_bodies,
                     "echo": echoes}
        self.slow_s = slow_s
        self.status = status  # answer every request with this HTTP status
        self.seen: Counter = Counter()  # prediction -> requests received
        self.requests: list[dict] = []
        self.authorizations: list[str | None] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @property
    def calls(self) -> int:
        return sum(self.seen.values())

    def __enter__(self) -> ScriptedJudge:  # noqa: PYI034 - py3.10 has no typing.Self
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _decide(self, body: dict) -> tuple[str, str]:
        """(what to do, reply text) for one request, advancing the per-prediction script."""
        prediction = json.loads(body["messages"][1]["content"])["prediction"]
        with self.lock:
            self.requests.append(body)
            count = self.seen[prediction]
            self.seen[prediction] += 1
        if self.status is not None:
            return "status", ""
        for action in ("failures", "slow", "garbage", "broken", "echo"):
            if count < self.plan[action]:
                return action, ""
            count -= self.plan[action]
        score = self.scores[prediction]
        return "answer", (str(score) if score is not None else "I would rather not say.")

    def _handler(self):
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, text: str) -> None:
                payload = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                if self.path != "/v1/chat/completions":
                    self._send(404, json.dumps({"error": "not found"}))
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                judge.authorizations.append(self.headers.get("Authorization"))
                action, reply = judge._decide(body)
                if action == "status":
                    # Echo the credentials back, as a careless server might: they must not leak further.
                    self._send(judge.status, json.dumps({"error": f"bad key {self.headers.get('Authorization')}"}))
                elif action == "failures":
                    self._send(500, json.dumps({"error": "internal"}))
                elif action == "broken":
                    self._send(200, "<html>proxy error</html>")
                else:
                    if action == "slow":
                        time.sleep(judge.slow_s)
                    content = "Great explanation, very relevant!" if action == "garbage" else reply
                    if action == "echo":
                        content = f"You sent Authorization: {self.headers.get('Authorization')}"
                    self._send(200, json.dumps({
                        "id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": content}}]}))

        return Handler
