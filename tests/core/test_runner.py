"""The runner in-process: resume after an interruption, shards merged by sample id."""

import json
from pathlib import Path

import pytest
from xrec_bench import config as run_config
from xrec_bench.errors import UserError
from xrec_bench.plugin import Explanation, Method
from xrec_bench.registry import methods
from xrec_bench.run_directory import read_predictions
from xrec_bench.runner import run


class Interrupted(Exception):
    pass


class CountingEcho(Method):
    """Explains with the item title; can be told to die after some calls."""

    needs_training = True
    calls: list[int] = []
    fail_after: int | None = None
    fits = 0

    def fit(self, splits, ctx):
        CountingEcho.fits += 1
        return {"history": [{"epoch": 1, "train_loss": 1.0, "valid_loss": 1.0}], "stopped_epoch": 1}

    def explain(self, records, ctx):
        if CountingEcho.fail_after is not None and len(CountingEcho.calls) >= CountingEcho.fail_after:
            raise Interrupted()
        CountingEcho.calls.append(len(records))
        return [f"You would enjoy {r.title} ({r.uid})" for r in records]

    def save(self, directory):
        (directory / "state.json").write_text("{}")

    def load(self, directory, ctx):
        assert (directory / "state.json").is_file()


methods.add("counting-echo", CountingEcho, summary="test double")


def make_config(**sets):
    assignments = [f"{k}={v}" for k, v in sets.items()]
    return run_config.resolve(method="counting-echo", dataset="yelp-mini", metric_names=["usr"],
                              limit=100, assignments=["runtime.explain_chunk=16", *assignments])


@pytest.fixture(autouse=True)
def reset():
    CountingEcho.calls, CountingEcho.fail_after, CountingEcho.fits = [], None, 0


def test_an_interrupted_run_resumes_without_repeating_work(tmp_path, mirror):
    config = make_config()
    CountingEcho.fail_after = 3
    with pytest.raises(Interrupted):
        run(config, tmp_path, log=lambda _: None)
    run_dir = next((tmp_path / "yelp-mini" / "counting-echo").iterdir())
    assert not (run_dir / "result.json").exists()
    assert len(read_predictions(run_dir / "predictions")) == 48
    CountingEcho.fail_after = None
    path = run(config, tmp_path, log=lambda _: None)
    assert CountingEcho.fits == 1  # the saved model was loaded, not refitted
    assert sum(CountingEcho.calls) == 100  # 48 before the interruption + 52 after, none twice
    result = json.loads(path.read_text())
    assert result["metrics"]["usr"]["n"] == 100 and result["training"]["stopped_epoch"] == 1


def test_shards_merge_by_sample_id_into_the_unsharded_result(tmp_path, mirror):
    config = make_config()
    whole = run(config, tmp_path / "whole", log=lambda _: None)
    first = run(config, tmp_path / "sharded", shard=(1, 2), log=lambda _: None)
    assert first.name == "shard-1-of-2.jsonl" and not (first.parent.parent / "result.json").exists()
    merged = run(config, tmp_path / "sharded", shard=(2, 2), log=lambda _: None)
    assert merged.name == "result.json"
    read = lambda p: [json.loads(line) for line in (p.parent / "samples.jsonl").read_text().splitlines()]
    assert read(merged) == read(whole)


def test_run_id_changes_with_any_semantic_setting_but_not_runtime():
    base = make_config()
    assert run_config.run_id(base) == run_config.run_id(make_config(**{"runtime.explain_chunk": 8}))
    assert run_config.run_id(base) != run_config.run_id(make_config(seed=1))
    assert run_config.run_id(base) != run_config.run_id(make_config(**{"metrics.bootstrap_resamples": 10}))
    assert run_config.run_id(base).startswith("s0-")


def test_only_rank_zero_saves_explains_and_writes(tmp_path, mirror, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    returned = run(make_config(), tmp_path, log=lambda _: None)
    assert CountingEcho.fits == 1 and CountingEcho.calls == []
    assert not (returned / "model").exists() and not (returned / "result.json").exists()


def test_set_reads_scientific_notation_as_a_number_and_config_files_too(tmp_path):
    assert run_config.parse_assignment("method.training.lr=1e-4") == {"method": {"training": {"lr": 1e-4}}}
    assert run_config.parse_assignment("a=2.5E3") == {"a": 2500.0}
    assert run_config.parse_assignment("a=abc") == {"a": "abc"}
    path = tmp_path / "c.yaml"
    path.write_text("method:\n  training:\n    lr: 3e-3\n", encoding="utf-8")
    resolved = run_config.resolve(method="xrec", dataset="yelp-mini", user_file=path)
    assert resolved["method"]["training"]["lr"] == 3e-3


@pytest.mark.parametrize("assignment, words", [("method.training.lr=fast", "must be a number"),
                                               ("method.profiles_in_prompt=maybe", "must be true or false"),
                                               ("method.training.batch_size=true", "must be a number"),
                                               ("metrics.bootstrap_resamples=[1]", "must be a number")])
def test_an_override_of_the_wrong_kind_is_a_user_error_naming_the_key(assignment, words):
    with pytest.raises(UserError, match=words) as caught:
        run_config.resolve(method="xrec", dataset="yelp-mini", assignments=[assignment])
    assert assignment.split("=")[0] in str(caught.value)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_release_free_memory_returns_freed_small_blocks_to_the_system():
    import numpy as np
    from xrec_bench.stages import current_rss_mb, release_free_memory

    release_free_memory()
    before = current_rss_mb()
    blocks = [np.ones(1000) for _ in range(50_000)]  # ~400 MB in 8 kB blocks: below glibc's mmap threshold
    assert current_rss_mb() - before > 300
    del blocks
    release_free_memory()
    assert current_rss_mb() - before < 100


class DecodingEcho(CountingEcho):
    """Says how each explanation was decoded: every third one hit the token cap."""

    def explain(self, records, ctx):
        texts = super().explain(records, ctx)
        return [Explanation(text, {"new_tokens": 12 if r.uid % 3 else 64,
                                   "stop": "eos" if r.uid % 3 else "max_new_tokens"})
                for text, r in zip(texts, records)]


methods.add("decoding-echo", DecodingEcho, summary="test double")


def test_decoding_records_survive_a_resume_and_are_summarised(tmp_path, mirror):
    config = run_config.resolve(method="decoding-echo", dataset="yelp-mini", metric_names=["usr"], limit=100,
                                assignments=["runtime.explain_chunk=16"])
    CountingEcho.fail_after = 3
    with pytest.raises(Interrupted):
        run(config, tmp_path, log=lambda _: None)
    CountingEcho.fail_after = None
    path = run(config, tmp_path, log=lambda _: None)
    samples = [json.loads(line) for line in (path.parent / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 100 and all(row["decoding"]["stop"] in ("eos", "max_new_tokens") for row in samples)
    capped = [row["uid"] % 3 == 0 for row in samples]
    generation = json.loads(path.read_text())["method"]["generation"]
    assert generation["n"] == 100
    assert generation["hit_max_new_tokens"] == pytest.approx(sum(capped) / 100)
    assert generation["stopped_at_eos"] == pytest.approx(1 - sum(capped) / 100)
    assert generation["mean_new_tokens"] == pytest.approx((64 * sum(capped) + 12 * (100 - sum(capped))) / 100)
