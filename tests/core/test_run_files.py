"""A run's files stay whole: a torn last line is cut before appending, two runs of one cell never
interleave, and --overwrite never leaves a result without its samples."""

import json
import shutil

import pytest
from xrec_bench import config as run_config
from xrec_bench import run_directory
from xrec_bench.errors import UserError
from xrec_bench.run_lock import run_lock
from xrec_bench.runner import run


def config():
    return run_config.resolve(method="retrieval", dataset="yelp-mini", metric_names=["usr"], limit=40,
                              assignments=["runtime.explain_chunk=16"])


def run_dir_of(tmp_path, cfg):
    return tmp_path / "yelp-mini" / "retrieval" / run_config.run_id(cfg)


def test_a_torn_last_line_is_cut_before_the_next_record_is_appended(tmp_path, mirror):
    cfg = config()
    whole = run(cfg, tmp_path / "whole", log=lambda _: None)
    rows = (whole.parent / "samples.jsonl").read_text().split("\n")[:-1]
    run_dir = run_dir_of(tmp_path / "torn", cfg)
    (run_dir / "predictions").mkdir(parents=True)
    kept = [json.dumps({"sample_id": json.loads(r)["sample_id"], "prediction": json.loads(r)["prediction"]})
            for r in rows[:5]]
    (run_dir / "predictions" / "all.jsonl").write_text("\n".join(kept) + "\n" + kept[5 - 1][:17])
    path = run(cfg, tmp_path / "torn", log=lambda _: None)
    lines = (run_dir / "predictions" / "all.jsonl").read_text().split("\n")
    assert lines[-1] == "" and [json.loads(line) for line in lines[:-1]]  # every line parses
    assert len({json.loads(line)["sample_id"] for line in lines[:-1]}) == len(lines) - 1 == 40
    assert (path.parent / "samples.jsonl").read_text() == (whole.parent / "samples.jsonl").read_text()


def test_a_second_run_of_the_same_cell_exits_with_who_holds_it(tmp_path, mirror):
    import os
    import socket

    cfg = config()
    with run_lock(run_dir_of(tmp_path, cfg)), pytest.raises(UserError) as raised:
        run(cfg, tmp_path, log=lambda _: None)
    message = str(raised.value)
    assert f"pid {os.getpid()}" in message and socket.gethostname() in message and "since" in message
    assert not run_dir_of(tmp_path, cfg).exists() or not any(run_dir_of(tmp_path, cfg).iterdir())
    assert run(cfg, tmp_path, log=lambda _: None).name == "result.json"  # released: it runs


def test_overwrite_interrupted_while_deleting_never_leaves_a_result_without_samples(tmp_path, mirror, monkeypatch):
    cfg = config()
    run_dir = run(cfg, tmp_path, log=lambda _: None).parent

    def killed_while_deleting(path, *args, **kwargs):
        if not path.exists():
            return
        for samples in sorted(path.rglob("samples.jsonl")):
            samples.unlink()
        raise KeyboardInterrupt

    real_rmtree = shutil.rmtree
    monkeypatch.setattr(run_directory.shutil, "rmtree", killed_while_deleting)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, tmp_path, overwrite=True, log=lambda _: None)
    monkeypatch.setattr(run_directory.shutil, "rmtree", real_rmtree)
    assert not (run_dir / "result.json").exists() or (run_dir / "samples.jsonl").exists()
    assert run(cfg, tmp_path, log=lambda _: None).name == "result.json"


def test_the_second_process_exits_2_with_one_sentence(tmp_path, mirror):
    from tests.conftest import run_cli

    with run_lock(run_dir_of(tmp_path, config())):
        done = run_cli("run", "--method", "retrieval", "--dataset", "yelp-mini", "--metrics", "usr", "--limit", "40",
                       "--set", "runtime.explain_chunk=16", "--output-dir", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "is in use by pid" in done.stderr
