"""What a judge says is stored without secrets, and a failing judge gives up within a bound."""

import json
import time

import pytest
from xrec_bench.errors import MetricUnavailable
from xrec_bench.metrics.gptscore import GPTScore
from xrec_bench.plugin import RunContext
from xrec_bench.scoring import score_all
from xrec_bench.stages import StageLog

from tests.metrics_models.judge_server import ScriptedJudge
from tests.metrics_models.test_gptscore import KEY, PAIRS, SCRIPT, judge_config, score


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("XREC_TEST_JUDGE_KEY", KEY)


def stored_text(tmp_path, result):
    files = "".join(path.read_text() for path in tmp_path.rglob("*") if path.is_file())
    return files + json.dumps(result.extra) + json.dumps(result.config)


def test_a_judge_that_echoes_the_key_never_gets_it_stored(tmp_path):
    script = {**SCRIPT, PAIRS[4][0]: None}
    with ScriptedJudge(script, echoes=1) as server:
        result = score(judge_config(server.url, max_reasks=1), tmp_path)
    assert KEY not in stored_text(tmp_path, result) and "sk-" not in stored_text(tmp_path, result)
    # Only the pair that stayed unparseable is an example, not the echoes a re-ask fixed.
    assert result.extra["unparseable"] == 1
    assert result.extra["unparseable_examples"] == ["I would rather not say."]


def test_an_echo_that_stays_unparseable_is_kept_redacted(tmp_path):
    with ScriptedJudge(SCRIPT, echoes=10) as server:
        result = score(judge_config(server.url, max_reasks=1), tmp_path, PAIRS[:1])
    assert result.status == "skipped" and result.extra["unparseable_examples"]
    assert "Authorization" in result.extra["unparseable_examples"][0]
    assert KEY not in stored_text(tmp_path, result) and "Bearer sk" not in stored_text(tmp_path, result)


def test_an_always_failing_judge_trips_the_circuit_breaker_quickly(tmp_path):
    started = time.monotonic()
    with ScriptedJudge(SCRIPT, failures=1000) as server:
        with pytest.raises(MetricUnavailable, match="in a row"):
            score(judge_config(server.url, backoff_s=0.2, max_retries=5, max_consecutive_failures=4), tmp_path)
        calls = server.calls
    assert time.monotonic() - started < 5 and calls <= 4 + 3  # the breaker, plus requests already in flight


def test_a_slow_judge_stops_at_the_total_deadline_and_is_reported_skipped(tmp_path):
    with ScriptedJudge(SCRIPT, slow=1000, slow_s=0.4) as server:
        config = judge_config(server.url, timeout_s=0.3, backoff_s=0.05, max_retries=50, deadline_s=1.0)
        started = time.monotonic()
        payloads, _ = score_all({"metrics": {"names": ["gptscore"], "gptscore": config, "bootstrap_resamples": 0}}, [p for p, _ in PAIRS],
                                [r for _, r in PAIRS], RunContext(cache_dir=tmp_path / "cache"), StageLog())
        elapsed = time.monotonic() - started
    assert elapsed < 3
    assert payloads["gptscore"]["status"] == "skipped" and "deadline" in payloads["gptscore"]["reason"]


def test_the_limits_are_settings_with_defaults():
    assert GPTScore.defaults["max_consecutive_failures"] >= 1 and GPTScore.defaults["deadline_s"] > 0
