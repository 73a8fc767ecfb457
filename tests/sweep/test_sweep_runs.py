"""Real sweeps of two tiny cells (retrieval on yelp-mini, 8 records, lexical and USR): inline and through
submitit's LocalExecutor, resume, stale detection, --keep-stale, a failing cell, the cost table."""

import json
import shutil

import pytest
import xrec_bench.sweep as sweep_module
from xrec_bench import hardware
from xrec_bench.results import Provenance
from xrec_bench.run_lock import run_lock
from xrec_bench.sweep import CellState, plan, read_grid, sweep

from tests.conftest import run_cli
from tests.sweep.conftest import HEAD, cost_rows, version


def record_version(result_path, provenance: Provenance) -> None:
    """Rewrite the code version a result.json records (as a run at that version would have)."""
    result = json.loads(result_path.read_text(encoding="utf-8"))
    result["environment"].update(git_commit=provenance.git_commit, git_dirty=provenance.git_dirty,
                                 code_tree=provenance.code_tree, code_dirty=provenance.code_dirty)
    result_path.write_text(json.dumps(result), encoding="utf-8")


def test_inline_sweep_runs_every_cell_then_skips_the_complete_ones(tmp_path, mirror, grid, head):
    out = tmp_path / "runs"
    lines = []
    first = sweep(grid, out, log=lines.append)
    assert not first.failed and len(first.outcomes) == 2
    paths = [outcome.result_path for outcome in first.outcomes]
    assert paths == [cell.run_directory(out).result_path for cell in (s.cell for s in first.statuses)]
    for path, seed in zip(paths, (0, 1)):
        result = json.loads(path.read_text(encoding="utf-8"))
        assert result["seed"] == seed and set(result["metrics"]) >= {"usr", "bleu4", "rouge1_f"}
        assert result["dataset"]["n_scored"] == 8
    rows = cost_rows(out)
    assert [(r["seed"], r["state"]) for r in rows] == [("0", "computed"), ("1", "computed")]
    assert all(float(r["fit_s"]) >= 0 and float(r["explain_s"]) >= 0 and float(r["score_s"]) > 0
               and float(r["peak_memory_mb"]) > 0 and "cpu" in r["machine"] for r in rows)
    model = hardware.cpu_description()["cpu_model"]
    assert model is None or all(model in r["machine"] for r in rows)  # which CPU a timing came from
    assert (out / "boards" / "yelp-mini.md").is_file() and (out / "boards" / "costs.md").is_file()

    for path in paths:
        record_version(path, head)
    before = [path.stat().st_mtime_ns for path in paths]
    second = sweep(grid, out, log=lines.append)
    assert second.outcomes == [] and [s.state for s in second.statuses] == [CellState.COMPLETE] * 2
    assert [path.stat().st_mtime_ns for path in paths] == before
    assert [r["state"] for r in cost_rows(out)] == ["complete", "complete"]
    assert "2 cells: 2 complete, 0 stale (run again), 0 missing; running 0" in lines[-1]


@pytest.mark.parametrize("recorded, why", [
    (version("b" * 40, False, "d" * 20, False),
     "computed by commit bbbbbbbbbb (code dddddddddd), not by the code of HEAD commit aaaaaaaaaa (code cccccccccc)"),
    (version("a" * 40, True, "c" * 20, True), "computed by commit aaaaaaaaaa (code cccccccccc) with uncommitted edits"),
    (version("b" * 40, False), "computed by commit bbbbbbbbbb, not by the code of HEAD"),  # before code_tree
    (version("a" * 40, True), "computed by commit aaaaaaaaaa with uncommitted edits"),
    (version(None, None), "computed by no recorded commit"),
])
def test_a_result_of_other_code_is_stale_and_runs_again(tmp_path, mirror, grid, head, recorded, why):
    out = tmp_path / "runs"
    first = sweep(grid, out, log=lambda line: None)
    stale, fresh = (outcome.result_path for outcome in first.outcomes)
    record_version(stale, recorded)
    record_version(fresh, head)
    statuses = plan(read_grid(grid), out)
    assert [s.state for s in statuses] == [CellState.STALE, CellState.COMPLETE]
    assert why in statuses[0].detail

    stale_text = stale.read_text(encoding="utf-8")
    kept = sweep(grid, out, keep_stale=True, log=lambda line: None)
    assert kept.outcomes == [] and [r["state"] for r in cost_rows(out)] == ["kept stale", "complete"]
    assert stale.read_text(encoding="utf-8") == stale_text

    rerun = sweep(grid, out, log=lambda line: None)
    assert [outcome.cell.seed for outcome in rerun.outcomes] == [0] and not rerun.failed
    assert [r["state"] for r in cost_rows(out)] == ["computed", "complete"]
    assert stale.read_text(encoding="utf-8") != stale_text  # written again by the runner, not kept


@pytest.mark.parametrize("recorded", [
    version("e" * 40, True, "c" * 20, False),  # a later commit, its docs or results edited: the same code
    version("a" * 40, False),  # HEAD itself, recorded before code_tree was
])
def test_a_result_of_the_same_code_is_complete(tmp_path, mirror, grid, head, recorded):
    out = tmp_path / "runs"
    first = sweep(grid, out, log=lambda line: None)
    for outcome in first.outcomes:
        record_version(outcome.result_path, recorded)
    statuses = plan(read_grid(grid), out)
    assert [s.state for s in statuses] == [CellState.COMPLETE] * 2
    assert statuses[0].detail == "computed by the code of HEAD commit aaaaaaaaaa (code cccccccccc)"


def test_with_uncommitted_edits_now_every_complete_cell_is_stale(tmp_path, mirror, grid, monkeypatch):
    out = tmp_path / "runs"
    edited = version("a" * 40, True, "c" * 20, True)
    monkeypatch.setattr(sweep_module, "current_provenance", lambda method: edited)
    lines = []
    first = sweep(grid, out, log=lines.append)
    for outcome in first.outcomes:
        record_version(outcome.result_path, version("a" * 40, False, "c" * 20, False))
    assert [s.state for s in plan(read_grid(grid), out)] == [CellState.STALE] * 2
    again = sweep(grid, out, log=lines.append)
    assert len(again.outcomes) == 2
    assert any("commit aaaaaaaaaa (code cccccccccc) with uncommitted edits, so no result counts as computed by it" in line
               for line in lines)


def test_a_failing_cell_is_reported_and_the_others_still_run(tmp_path, mirror, grid, head):
    out = tmp_path / "runs"
    busy = plan(read_grid(grid), out)[0].cell
    with run_lock(busy.run_directory(out).path):  # another process holds seed 0
        report = sweep(grid, out, log=lambda line: None)
    assert [o.cell.seed for o in report.failed] == [0] and "is in use by pid" in report.failed[0].error
    assert [r["state"] for r in cost_rows(out)] == ["failed", "computed"]
    assert cost_rows(out)[0]["fit_s"] == ""


def test_local_executor_runs_two_cells_as_submitit_jobs(tmp_path, mirror, grid):
    out = tmp_path / "runs"
    done = run_cli("sweep", str(grid), "--executor", "local", "--max-parallel", "2", "--output-dir", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("submitted as local job") == 2 and done.stderr.count(": done") == 2
    rows = cost_rows(out)
    assert [(r["seed"], r["state"]) for r in rows] == [("0", "computed"), ("1", "computed")]
    for row in rows:
        result = json.loads((out / "yelp-mini" / "retrieval" / row["run_id"] / "result.json").read_text())
        assert result["complete"] and result["seed"] == int(row["seed"])
        assert float(row["peak_memory_mb"]) == max(result["peak_memory_mb"].values())
    job_logs = list((out / ".sweep-jobs").glob("*/*_log.err"))
    assert len(job_logs) == 2 and all("stage explain" in log.read_text() for log in job_logs)
    assert str(out / "boards" / "costs.md") in done.stdout and str(out / "boards" / "yelp-mini.md") in done.stdout


def test_local_executor_reports_a_failed_job_and_exits_1(tmp_path, mirror, grid, head):
    out = tmp_path / "runs"
    busy = plan(read_grid(grid), out)[1].cell
    with run_lock(busy.run_directory(out).path):
        report = sweep(grid, out, executor="local", max_parallel=1, log=lambda line: None)
    assert [o.cell.seed for o in report.failed] == [1]
    assert report.failed[0].error.startswith(f"{busy.run_directory(out).path} is in use by pid")
    assert report.failed[0].log_path.is_file()
    assert [r["state"] for r in cost_rows(out)] == ["computed", "failed"]


def test_dry_run_lists_each_cell_and_writes_nothing(tmp_path, mirror, grid):
    out = tmp_path / "runs"
    done = run_cli("sweep", str(grid), "--output-dir", str(out), "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[-1] == "# 2 cells: 0 complete, 0 stale, 2 missing"
    assert lines[0].split()[:5] == ["missing", "yelp-mini", "retrieval", "base", "seed"]
    assert lines[0].endswith("not run yet") and not out.exists()


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_sigterm_to_a_local_sweep_cancels_its_running_job(tmp_path, mirror, sigint):
    """submitit's local jobs ignore SIGTERM; a sweep ended by one must not leave its cell running, also
    when it was started in the background of a script, which starts it with SIGINT ignored."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    grid = tmp_path / "grid.yaml"  # an NRT cell that would train for many minutes
    grid.write_text("methods: [nrt]\ndatasets: [yelp-mini]\nseeds: [0]\n"
                    "set: {limit: 16, metrics.names: [lexical], method.max_epochs: 1000, method.endure: 1000}\n",
                    encoding="utf-8")
    stderr = tmp_path / "sweep.err"
    command = [sys.executable, "-m", "xrec_bench", "sweep", str(grid), "--executor", "local",
               "--output-dir", str(tmp_path / "runs")]
    if sigint == "ignored":  # as a shell script's `&` starts it; exec keeps the pid
        command = ["sh", "-c", 'trap "" INT; exec "$0" "$@"', *command]
    with stderr.open("w") as sink:
        sweep_process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 120
    while "submitted as local job" not in stderr.read_text() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "submitted as local job" in stderr.read_text(), stderr.read_text()
    job_processes = psutil.Process(sweep_process.pid).children(recursive=True)
    assert job_processes
    sweep_process.send_signal(signal.SIGTERM)
    assert sweep_process.wait(timeout=60) != 0
    _, alive = psutil.wait_procs(job_processes, timeout=30)
    for orphan in alive:  # do not leave them training beside the rest of the tests
        orphan.kill()
    assert alive == [], f"job processes outlived the sweep: {[p.pid for p in alive]}"


def test_the_interim_report_tabulates_the_cells_complete_so_far_and_runs_nothing(tmp_path, mirror, grid, head):
    from xrec_bench.sweep.report import write_interim_report

    out = tmp_path / "runs"
    first = sweep(grid, out, log=lambda line: None)
    for outcome in first.outcomes:
        record_version(outcome.result_path, head)
    unfinished = first.outcomes[1].result_path
    unfinished.unlink()  # seed 1 stopped before its result was written
    shutil.rmtree(out / "boards")
    written = write_interim_report(grid, out, log=lambda line: None)  # one grid file
    assert out / "boards" / "costs.md" in written and out / "boards" / "yelp-mini.md" in written
    rows = cost_rows(out)
    assert [(r["seed"], r["state"]) for r in rows] == [("0", "complete"), ("1", "missing")]
    assert float(rows[0]["score_s"]) > 0 and rows[1]["score_s"] == ""
    assert not unfinished.exists()  # nothing ran
    assert "1 of 2 cells" in (out / "boards" / "costs.md").read_text(encoding="utf-8")


def test_the_interim_report_of_two_grids_sharing_a_directory_tabulates_both(tmp_path, mirror, grid, head):
    """The ablation board's switches and its zero-shot row are two grid files swept into one directory:
    one report of both gives one cost table of every cell of both, and one board of all their results."""
    from xrec_bench.sweep.report import main

    out = tmp_path / "runs"
    zeroshot = tmp_path / "zeroshot.yaml"
    zeroshot.write_text(grid.read_text(encoding="utf-8").replace("yelp-mini", "yelp-mini-zeroshot")
                        .replace("seeds: [0, 1]", "seeds: [0]"), encoding="utf-8")
    for path in (grid, zeroshot):
        for outcome in sweep(path, out, log=lambda line: None).outcomes:
            record_version(outcome.result_path, head)
    assert [r["dataset"] for r in cost_rows(out)] == ["yelp-mini-zeroshot"]  # each sweep tabulates its own grid
    assert main([str(grid), str(zeroshot), str(grid), str(out)]) == 0  # a grid named twice: its cells once
    rows = cost_rows(out)
    assert [(r["dataset"], r["seed"], r["state"]) for r in rows] == [
        ("yelp-mini", "0", "complete"), ("yelp-mini", "1", "complete"), ("yelp-mini-zeroshot", "0", "complete")]
    assert (out / "boards" / "yelp-mini.md").is_file() and (out / "boards" / "yelp-mini-zeroshot.md").is_file()
    assert main([str(out)]) == 2  # a directory and no grid


def test_a_partial_run_resumes_only_with_the_code_that_started_it(tmp_path, mirror, grid, head):
    """Regression: a run stopped part-way was resumed from the model and predictions of whatever code had
    started it, and its result then recorded the code running now."""
    from xrec_bench.sweep.status import start_marker

    out = tmp_path / "runs"
    first = sweep(grid, out, log=lambda line: None)
    cell = first.statuses[0].cell
    run_dir = first.outcomes[0].result_path.parent
    marker = start_marker(cell.config, out)
    assert json.loads(marker.read_text())["code_tree"] == head.code_tree

    def stop_part_way(old_predictions: bool) -> None:
        (run_dir / "result.json").unlink()
        (run_dir / "samples.jsonl").unlink()
        if old_predictions:
            for path in (run_dir / "predictions").glob("*.jsonl"):
                rows = [json.loads(line) for line in path.read_text().splitlines()]
                path.write_text("".join(json.dumps({**row, "prediction": "OLD-CODE OUTPUT"}) + "\n" for row in rows))

    stop_part_way(old_predictions=False)
    status = plan(read_grid(grid), out)[0]
    assert (status.state, status.detail, status.restart) == (CellState.MISSING, "partial run, will resume", False)
    assert not sweep(grid, out, log=lambda line: None).failed  # resumed to the end

    stop_part_way(old_predictions=True)
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "code_tree": "d" * 20}))
    status = plan(read_grid(grid), out)[0]
    assert status.restart and status.detail == ("partial run started by commit aaaaaaaaaa (code dddddddddd), not by "
                                                "the code running now; it starts again from scratch")
    again = sweep(grid, out, log=lambda line: None)
    assert 0 in [outcome.cell.seed for outcome in again.outcomes] and not again.failed
    assert "OLD-CODE OUTPUT" not in (run_dir / "samples.jsonl").read_text()
    assert json.loads(marker.read_text())["code_tree"] == head.code_tree

    stop_part_way(old_predictions=True)
    marker.unlink()  # started by `xrec-bench run`, or by a sweep before markers
    status = plan(read_grid(grid), out)[0]
    assert status.restart and "no sweep recorded starting" in status.detail
    sweep(grid, out, log=lambda line: None)
    assert "OLD-CODE OUTPUT" not in (run_dir / "samples.jsonl").read_text()


def test_an_inline_cell_does_not_inherit_the_thread_count_of_the_cell_before(tmp_path, mirror, head):
    """Regression: torch.set_num_threads of one inline cell stayed set for the next, whose runtime.threads
    is unset (and runtime is not part of the run id)."""
    import torch

    grid = tmp_path / "grid.yaml"
    grid.write_text("methods: [retrieval, published]\ndatasets: [yelp-mini]\nseeds: [0]\n"
                    "set: {limit: 8, metrics.names: [usr]}\nset_by_method: {retrieval: {runtime.threads: 1}}\n")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # this process's own count (OMP_NUM_THREADS may have made it 1)
    try:
        report = sweep(grid, tmp_path / "runs", log=lambda line: None)
        assert not report.failed and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    threads = {outcome.cell.method: json.loads(outcome.result_path.read_text())["environment"]["threads"]
               for outcome in report.outcomes}
    assert threads == {"retrieval": 1, "published": 2}


def test_a_killed_job_is_reported_with_its_state_and_the_last_line_of_its_log(tmp_path):
    from submitit.core.utils import UncompletedJobError
    from xrec_bench.sweep.executors import _killed

    log = tmp_path / "job.err"
    log.write_text("epoch 3: 40/48 (1.0/s)\n----------\nepoch 3: 41/48 (1.0/s)\n")
    error = UncompletedJobError("Job 1234 (task: 0) with path /x/1234_0_result.pkl\nhas not produced any "
                                "output (state: OUT_OF_MEMORY)\nError stream produced:\n----------\n...")
    assert _killed(error, log) == ("Job 1234 (task: 0) with path /x/1234_0_result.pkl has not produced any output "
                                   "(state: OUT_OF_MEMORY); the last line of its log: epoch 3: 41/48 (1.0/s)")


def test_a_restarted_cell_is_discarded_before_its_marker_names_the_code_now(tmp_path, mirror, grid, head, monkeypatch):
    """Regression: the marker was rewritten before the runner discarded the old partial run (after loading
    the data), so a run that failed in between left old-code output under a marker naming the code now."""
    import xrec_bench.runner
    from xrec_bench.sweep.status import start_marker

    out = tmp_path / "runs"
    first = sweep(grid, out, log=lambda line: None)
    cell, run_dir = first.statuses[0].cell, first.outcomes[0].result_path.parent
    (run_dir / "result.json").unlink()
    marker = start_marker(cell.config, out)
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "code_tree": "d" * 20}))

    def fails_early(*args, **kwargs):
        raise RuntimeError("the data would not load")

    monkeypatch.setattr(xrec_bench.runner, "run", fails_early)
    assert sweep(grid, out, log=lambda line: None).failed
    assert not run_dir.exists()  # nothing of the other code's run is left to resume
    assert plan(read_grid(grid), out)[0].detail == "not run yet"


def test_a_marker_of_clean_code_is_not_kept_for_a_run_by_edited_code(tmp_path, mirror, grid, monkeypatch):
    from xrec_bench.sweep.status import record_start, started_by

    config = plan(read_grid(grid), tmp_path)[0].cell.config
    monkeypatch.setattr(sweep_module, "current_provenance", lambda method: HEAD)
    record_start(config, tmp_path, fresh=True)
    edited = version("a" * 40, True, "c" * 20, True)
    monkeypatch.setattr(sweep_module, "current_provenance", lambda method: edited)
    record_start(config, tmp_path, fresh=False)  # a resume by edited code
    assert started_by(config, tmp_path).code_dirty is True


@pytest.mark.parametrize("raised, expected", [("failed", "bad"), ("killed", "state: TIMEOUT")])
def test_a_job_that_raised_keeps_its_error_and_only_a_job_without_a_result_is_killed(tmp_path, raised, expected):
    from types import SimpleNamespace

    from submitit.core.utils import FailedJobError, UncompletedJobError
    from xrec_bench.sweep.executors import CellJob, _outcome

    log = tmp_path / "job.err"
    log.write_text("last words\n")
    error = (FailedJobError("Job (task=0) failed during processing with trace:\n----------------------\n"
                            "Traceback ...\nxrec_bench.errors.UserError: bad\n----------------------\n")
             if raised == "failed" else
             UncompletedJobError("Job 7 (task: 0) with path /x\nhas not produced any output (state: TIMEOUT)\n"))
    submitted = SimpleNamespace(exception=lambda: error, paths=SimpleNamespace(stderr=str(log)))
    outcome = _outcome(CellJob(cell=None, overwrite=False), submitted)
    assert (outcome.error == "bad") if raised == "failed" else (expected in outcome.error and "last words" in outcome.error)
