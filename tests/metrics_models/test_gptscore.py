"""GPTScore: XRec's prompt, reply parsing, and the OpenAI-compatible judge against a real loopback server."""

from __future__ import annotations

import json

import numpy as np
import pytest
from xrec_bench.errors import MetricUnavailable
from xrec_bench.metrics.gptscore import SYSTEM_PROMPT, GPTScore, conversation, parse_score
from xrec_bench.plugin import RunContext

from tests.metrics_models.judge_server import ScriptedJudge

PAIRS = [
    ("The user would enjoy the tacos.", "You would love the tacos here."),
    ("Great coffee and friendly staff.", "The cafe has excellent espresso."),
    ("A gripping mystery novel.", "The book is a page-turning thriller."),
    ("Cheap and cheerful pizza.", "The pizza is affordable and tasty."),
    ("Quiet park for long walks.", "A calm place to stroll."),
]
SCRIPT = {prediction: score for (prediction, _), score in zip(PAIRS, [80, 35.5, 90, 0, 100])}
KEY = "sk-test-0123456789-secret"


def judge_config(url: str, **overrides) -> dict:
    config = {**GPTScore.defaults, "judge": "openai", "model": "judge-test", "base_url": url,
              "api_key_env": "XREC_TEST_JUDGE_KEY", "timeout_s": 5.0, "backoff_s": 0.01, "concurrency": 3}
    return {**config, **overrides}


def score(config: dict, tmp_path, pairs=PAIRS):
    ctx = RunContext(cache_dir=tmp_path / "cache")
    predictions, references = zip(*pairs)
    return GPTScore(config).score(list(predictions), list(references), ctx)["gptscore"]


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("XREC_TEST_JUDGE_KEY", KEY)


def test_prompt_and_message_are_xrecs_verbatim():
    assert SYSTEM_PROMPT == ("Score the given explanation against the ground truth on a scale from 0 to 100, "
                             "focusing on the alignment of meanings rather than the formatting.\nProvide your "
                             "score as a number and do not provide any other text.")
    messages = conversation('He said "hi"', "café")
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert messages[1]["content"] == '{"prediction": "He said \\"hi\\"", "reference": "caf\\u00e9"}'


@pytest.mark.parametrize("reply, expected", [
    ("85", 85.0), (" 72.5\n", 72.5), ("90.", 90.0), ("Score: 40", 40.0), ("100", 100.0), ("0", 0.0),
    ("101", None), ("-3", None), ("80/100", None), ("good", None), ("", None), ("nan", None), (None, None),
])
def test_parse_score(reply, expected):
    assert parse_score(reply) == expected


def test_mean_equals_the_servers_scripted_scores(tmp_path):
    with ScriptedJudge(SCRIPT) as server:
        result = score(judge_config(server.url), tmp_path)
        assert server.calls == len(PAIRS)
        assert all(auth == f"Bearer {KEY}" for auth in server.authorizations)
        body = server.requests[0]
        assert body["model"] == "judge-test" and body["temperature"] == 0.0
        assert body["messages"][0]["content"] == SYSTEM_PROMPT
    expected = [SCRIPT[p] for p, _ in PAIRS]
    assert result.status == "ok"
    assert result.per_sample == expected
    assert result.value == pytest.approx(np.mean(expected), abs=1e-12)
    assert result.std == pytest.approx(np.std(expected), abs=1e-12)
    assert result.n == len(PAIRS)
    assert result.config["model"] == "judge-test" and len(result.config["prompt_sha256"]) == 64
    assert result.extra["unparseable"] == 0 and result.extra["calls"] == len(PAIRS)
    assert KEY not in json.dumps(result.config) + json.dumps(result.extra)


def test_a_server_that_fails_twice_then_answers_gives_a_complete_result(tmp_path):
    with ScriptedJudge(SCRIPT, failures=2) as server:
        result = score(judge_config(server.url), tmp_path)
        assert server.calls == 3 * len(PAIRS)
    assert result.per_sample == [SCRIPT[p] for p, _ in PAIRS]
    assert result.extra["retries"] == 2 * len(PAIRS)


def test_slow_replies_time_out_and_are_retried(tmp_path):
    with ScriptedJudge(SCRIPT, slow=1, slow_s=1.5) as server:
        result = score(judge_config(server.url, timeout_s=0.5), tmp_path, PAIRS[:2])
        assert server.calls == 4
    assert result.per_sample == [SCRIPT[p] for p, _ in PAIRS[:2]]
    assert result.extra["retries"] == 2


def test_garbage_replies_are_reasked_then_counted(tmp_path):
    script = {**SCRIPT, PAIRS[4][0]: None}  # this pair's judge never gives a number
    with ScriptedJudge(script, garbage=1, broken_bodies=1) as server:
        result = score(judge_config(server.url, max_reasks=3), tmp_path)
        assert server.calls == 3 * 4 + 4  # 4 pairs: garbage, broken, answer; the last pair: 4 tries
    assert result.per_sample == [80, 35.5, 90, 0, None]
    assert result.n == 4
    assert result.value == pytest.approx(np.mean([80, 35.5, 90, 0]))
    assert result.extra["unparseable"] == 1
    assert result.extra["reasks"] == 5 + 5 + 1  # every pair re-asked twice, the never-parseable one thrice


def test_a_second_run_makes_zero_calls(tmp_path):
    with ScriptedJudge(SCRIPT, failures=1) as server:
        first = score(judge_config(server.url), tmp_path)
        calls = server.calls
        second = score(judge_config(server.url), tmp_path)
        assert server.calls == calls
    assert second.per_sample == first.per_sample and second.extra["cached"] == len(PAIRS)
    assert second.extra["calls"] == 0


def test_cache_keys_on_judge_and_sampling(tmp_path):
    with ScriptedJudge(SCRIPT) as server:
        score(judge_config(server.url), tmp_path)
        score(judge_config(server.url, temperature=0.7), tmp_path)
        assert server.calls == 2 * len(PAIRS)
        result = score(judge_config(server.url, samples=2), tmp_path)
        assert server.calls == 3 * len(PAIRS)  # sample 0 is cached, sample 1 is new
    assert result.per_sample == [SCRIPT[p] for p, _ in PAIRS]


def test_no_judge_is_skipped_with_how_to_configure(tmp_path):
    with pytest.raises(MetricUnavailable, match="metrics.gptscore.judge=openai"):
        score({**GPTScore.defaults}, tmp_path)


def test_the_openai_api_without_a_key_is_skipped(tmp_path, monkeypatch):
    monkeypatch.delenv("XREC_TEST_JUDGE_KEY")
    with pytest.raises(MetricUnavailable, match="XREC_TEST_JUDGE_KEY"):
        score(judge_config("https://api.openai.com/v1"), tmp_path)


def test_a_rejected_key_never_reaches_the_message(tmp_path):
    with ScriptedJudge(SCRIPT, status=401) as server:
        with pytest.raises(MetricUnavailable) as raised:
            score(judge_config(server.url), tmp_path)
        assert server.calls >= 1
    assert "HTTP 401" in str(raised.value) and KEY not in str(raised.value)
    assert not any(KEY in path.read_text() for path in tmp_path.rglob("*") if path.is_file())


def test_a_dead_server_is_reported_after_bounded_retries(tmp_path):
    with ScriptedJudge(SCRIPT, failures=100) as server:
        with pytest.raises(MetricUnavailable, match="did not answer after 3 tries"):
            score(judge_config(server.url, max_retries=2, concurrency=1), tmp_path, PAIRS[:1])
        assert server.calls == 3


@pytest.mark.slow
def test_a_local_hf_judge_batches_like_single_calls_and_counts_what_it_cannot_parse(tmp_path):
    """SmolLM2-135M-Instruct is real but cannot keep the 0-100 format: the plumbing is what is tested."""
    from xrec_bench.metrics.judges.hf_local import LocalHFJudge

    config = {**GPTScore.defaults, "judge": "hf", "model": "smollm2-135m-instruct", "max_tokens": 6,
              "max_reasks": 1}
    conversations = [conversation(p, r) for p, r in PAIRS[:3]]
    replies = {}
    for batch_size in (3, 1):
        judge = LocalHFJudge({**config, "batch_size": batch_size})
        collected: dict[int, str] = {}
        judge.complete(conversations, [0, 0, 0], collected.__setitem__)
        replies[batch_size] = [collected[i] for i in range(3)]
    assert replies[3] == replies[1] and all(isinstance(text, str) and text for text in replies[3])

    result = score({**config, "batch_size": 3}, tmp_path, PAIRS[:3])
    parsed = [value for value in result.per_sample if value is not None]
    assert result.extra["unparseable"] == 3 - len(parsed)
    assert result.extra["calls"] == 3 + result.extra["reasks"]
    assert all(0 <= value <= 100 for value in parsed)
    assert result.config["judge"] == "hf" and result.config["model"] == "smollm2-135m-instruct"
    if not parsed:
        assert result.status == "skipped" and result.extra["unparseable_examples"]


def test_paper_profile_calls_the_judge_as_xrec_does(tmp_path):
    """XRec's evaluation sends only the messages: the API defaults (temperature 1.0, no token cap) apply."""
    from xrec_bench.config import plugin_layer

    paper = plugin_layer(GPTScore, "paper")
    assert paper["model"] == "gpt-3.5-turbo" and paper["temperature"] == 1.0 and paper["max_tokens"] is None
    with ScriptedJudge(SCRIPT) as server:
        result = score({**paper, "model": "judge-test", "base_url": server.url,
                        "api_key_env": "XREC_TEST_JUDGE_KEY", "timeout_s": 5.0}, tmp_path)
        body = server.requests[0]
    assert body["temperature"] == 1.0 and "max_tokens" not in body
    assert result.status == "ok" and result.config["temperature"] == 1.0 and result.config["max_tokens"] is None
