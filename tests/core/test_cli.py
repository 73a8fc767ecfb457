import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_cli


def result_of(done):
    assert done.returncode == 0, done.stderr
    path = done.stdout.strip().splitlines()[-1]
    assert path.endswith("result.json")
    return json.loads(open(path, encoding="utf-8").read()), path


@pytest.mark.parametrize("dataset, usr", [("google", 0.9993), ("amazon", 1.0), ("yelp", 1.0)])
def test_published_predictions_reproduce_the_published_usr(tmp_path, mirror, dataset, usr):
    result, _ = result_of(run_cli("run", "--method", "published", "--dataset", dataset, "--metrics", "usr",
                                  "--output-dir", str(tmp_path)))
    assert round(result["metrics"]["usr"]["value"], 4) == usr
    assert result["metrics"]["usr"]["n"] == 3000
    assert result["metrics"]["usr"]["std"] is None
    assert result["dataset"]["released_predictions"]["matched_to_test_records"] == (1438 if dataset == "yelp" else 3000)


def test_run_writes_the_three_files_and_resumes_when_complete(tmp_path, mirror):
    args = ("run", "--method", "retrieval", "--dataset", "yelp-mini", "--metrics", "usr,lexical",
            "--output-dir", str(tmp_path))
    result, path = result_of(run_cli(*args))
    run_dir = tmp_path / "yelp-mini" / "retrieval" / result["run_id"]
    assert path == str(run_dir / "result.json")
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 300 and all(s["prediction"] and s["reference"] for s in samples)
    assert set(samples[0]["scores"]) >= {"rouge1_f", "rougeL_f", "mean_length"}
    assert "retrieval" in (run_dir / "config.yaml").read_text()
    assert result["dataset"]["splits"] == {"train": 2400, "valid": 300, "test": 300}
    assert set(result["timings_s"]) >= {"load", "fit", "explain"} and result["peak_memory_mb"]["fit"] > 0
    low, high = result["metrics"]["rouge1_f"]["extra"]["ci95"]
    assert low < result["metrics"]["rouge1_f"]["value"] < high
    assert "ci95" not in result["metrics"]["bleu1"]["extra"]  # corpus level: no per-sample values
    again = run_cli(*args)
    assert "already complete" in again.stderr and again.stdout.strip().splitlines()[-1] == path


def test_unknown_method_gets_one_sentence_with_a_suggestion(tmp_path):
    done = run_cli("run", "--method", "retrival", "--dataset", "yelp-mini", "--output-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == done.stderr.strip().splitlines()[0]
    assert "Did you mean 'retrieval'?" in done.stderr and not any(tmp_path.iterdir())


def test_a_set_value_of_the_wrong_kind_exits_2_before_writing_anything(tmp_path):
    done = run_cli("run", "--method", "xrec", "--dataset", "yelp-mini", "--set", "method.training.lr=fast",
                   "--output-dir", str(tmp_path))
    assert done.returncode == 2
    expected = ("error: method.training.lr must be a number (default 0.001), not 'fast'; "
                "fix it with --set method.training.lr=...")
    assert done.stderr.strip().splitlines() == [expected]
    assert not any(tmp_path.iterdir())


def test_listing_plugins_imports_no_torch():
    code = ("import sys; from click.testing import CliRunner; from xrec_bench.cli import main; "
            "out = [CliRunner().invoke(main, ['list', k]).output for k in ('methods', 'datasets', 'metrics')]; "
            "assert 'retrieval' in out[0] and 'yelp-mini' in out[1] and 'usr' in out[2], out; "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=REPO)
    assert done.stdout.strip() == "ok", done.stderr


def test_score_pairs_the_released_predictions_with_the_released_references(tmp_path, mirror):
    result, _ = result_of(run_cli("score", "--predictions", str(mirror / "google" / "tst_pred.pkl"),
                                     "--dataset", "google", "--metrics", "usr", "--output-dir", str(tmp_path)))
    assert round(result["metrics"]["usr"]["value"], 4) == 0.9993
    assert result["dataset"]["test_split"] == "released"


@pytest.mark.parametrize("problem", ["length", "empty", "encoding", "suffix"])
def test_score_rejects_bad_input_with_exit_2_and_writes_nothing(tmp_path, problem):
    predictions = tmp_path / ("preds.txt" if problem != "suffix" else "preds.csv")
    references = tmp_path / "refs.txt"
    references.write_text("a reference\nanother reference\n", encoding="utf-8")
    if problem == "length":
        predictions.write_text("only one prediction\n", encoding="utf-8")
    elif problem == "empty":
        predictions.write_text("", encoding="utf-8")
    elif problem == "encoding":
        predictions.write_bytes(b"caf\xe9\nok\n")
    else:
        predictions.write_text("x\ny\n", encoding="utf-8")
    out = tmp_path / "runs"
    done = run_cli("score", "--predictions", str(predictions), "--references", str(references),
                   "--metrics", "usr", "--output-dir", str(out))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("error: ")
    assert not out.exists()


def test_score_jsonl_against_a_references_file(tmp_path):
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text('{"prediction": "the food is great"}\n"the food is great"\n', encoding="utf-8")
    references = tmp_path / "refs.txt"
    references.write_text("the food is great\nthe staff is kind\n", encoding="utf-8")
    result, _ = result_of(run_cli("score", "--predictions", str(predictions), "--references", str(references),
                                  "--metrics", "usr", "--output-dir", str(tmp_path / "runs")))
    assert result["metrics"]["usr"]["value"] == 0.5 and result["metrics"]["usn"]["value"] == 1


def test_config_prints_the_resolved_yaml_and_the_run_id(mirror):
    from xrec_bench.config import load_yaml, resolve, run_id

    done = run_cli("config", "--method", "retrieval", "--dataset", "yelp-mini", "--metrics", "usr", "--seed", "3",
                   "--set", "metrics.bootstrap_resamples=0")
    assert done.returncode == 0, done.stderr
    printed = load_yaml(done.stdout)
    expected = resolve(method="retrieval", dataset="yelp-mini", seed=3, metric_names=["usr"],
                       assignments=["metrics.bootstrap_resamples=0"])
    assert printed == expected
    assert done.stdout.strip().splitlines()[-1] == f"# run id: {run_id(expected)}"
    refused = run_cli("config", "--method", "retrieval", "--dataset", "yelp-mini", "--profile", "gpu")
    assert refused.returncode == 2 and "gpu" in refused.stderr
    assert run_cli("run", "-h").returncode == 0
