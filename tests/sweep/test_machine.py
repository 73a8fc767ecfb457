"""A sweep on a CPU without bf16 hardware holds back the cells that compute in bf16 (torch would emulate
them about 100x slower than fp32), says which and why, and runs the others."""

import pytest
import xrec_bench.sweep as sweep_module
from xrec_bench import config as run_config
from xrec_bench.errors import UserError
from xrec_bench.sweep import CellState, CellStatus, machine, plan, read_grid, sweep

from tests.conftest import REPO
from tests.sweep.conftest import TINY, cost_rows

# One cell that scores BERTScore in bf16 beside the tiny grid's two fp32 cells.
WITH_BF16 = TINY + ("variants: {base: {}, bf16-bertscore: {metrics.names: [lexical, usr, bertscore], "
                    "metrics.bertscore.precision: bf16}}\n")


@pytest.fixture
def no_bf16_hardware(monkeypatch):
    monkeypatch.setattr(machine, "cpu_has_native_bf16", lambda: False)
    monkeypatch.delenv(machine.RUN_EMULATED_VARIABLE, raising=False)


def test_the_settings_that_compute_in_bf16_are_the_method_precision_and_the_scored_metrics():
    nrt = run_config.resolve(method="nrt", dataset="yelp-mini", seed=0, assignments=["method.precision=bf16-autocast"])
    assert machine.bf16_settings(nrt) == ["method.precision=bf16-autocast"]
    fp32 = run_config.resolve(method="nrt", dataset="yelp-mini", seed=0, assignments=["method.precision=fp32"])
    assert machine.bf16_settings(fp32) == []
    # A bf16 metric setting counts only where the run scores that metric.
    unscored = run_config.resolve(method="retrieval", dataset="yelp-mini", seed=0, metric_names=["lexical"],
                                  assignments=["metrics.bertscore.precision=bf16"])
    assert machine.bf16_settings(unscored) == []
    scored = run_config.resolve(method="retrieval", dataset="yelp-mini", seed=0, metric_names=["bertscore"],
                                assignments=["metrics.bertscore.precision=bf16"])
    assert machine.bf16_settings(scored) == ["metrics.bertscore.precision=bf16"]


def test_bf16_is_emulated_only_on_a_cpu_without_bf16_hardware(no_bf16_hardware, monkeypatch):
    nrt = run_config.resolve(method="nrt", dataset="yelp-mini", seed=0, assignments=["method.precision=bf16-autocast"])
    assert machine.emulated_bf16(nrt) == ["method.precision=bf16-autocast"]
    reason = machine.held_back_reason(nrt)
    assert reason.startswith("held back: it computes in bf16 (method.precision=bf16-autocast)")
    assert "XREC_BENCH_EMULATED_BF16=run" in reason
    on_gpu = {**nrt, "runtime": {**nrt["runtime"], "device": "cuda:0"}}
    assert machine.emulated_bf16(on_gpu) == [] and machine.held_back_reason(on_gpu) is None
    monkeypatch.setenv(machine.RUN_EMULATED_VARIABLE, "run")
    assert machine.held_back_reason(nrt) is None
    monkeypatch.delenv(machine.RUN_EMULATED_VARIABLE)
    monkeypatch.setattr(machine, "cpu_has_native_bf16", lambda: True)
    assert machine.held_back_reason(nrt) is None


def test_a_sweep_without_bf16_hardware_runs_the_fp32_cells_and_holds_back_the_bf16_one(
        tmp_path, mirror, head, no_bf16_hardware):
    grid = tmp_path / "grid.yaml"
    grid.write_text(WITH_BF16, encoding="utf-8")
    out = tmp_path / "runs"
    lines = []
    report = sweep(grid, out, log=lines.append)
    assert not report.failed
    assert [(o.cell.variant, o.cell.seed) for o in report.outcomes] == [("base", 0), ("base", 1)]
    held = [s for s in report.statuses if s.held_back]
    assert [(s.cell.variant, s.cell.seed, s.state) for s in held] == [("bf16-bertscore", 0, CellState.MISSING),
                                                                      ("bf16-bertscore", 1, CellState.MISSING)]
    assert not any(s.cell.run_directory(out).path.exists() for s in held)  # nothing of theirs written
    assert lines[0] == ("4 cells: 0 complete, 0 stale (run again), 4 missing; running 2 with the inline executor, "
                        "holding back 2 that this machine would compute in emulated bf16")
    assert lines[1].startswith("2 cells held back: it computes in bf16 (metrics.bertscore.precision=bf16)")
    assert lines[1].endswith("yelp-mini retrieval bf16-bertscore seed 0; yelp-mini retrieval bf16-bertscore seed 1")
    assert lines[-1] == "the grid is not complete here: 2 cells held back (see above)"
    assert [r["state"] for r in cost_rows(out)] == ["computed", "computed", "held back", "held back"]
    assert (out / "boards" / "yelp-mini.md").is_file()


def test_on_a_cpu_without_bf16_hardware_the_committed_grid_would_run_only_its_fp32_cells(tmp_path, no_bf16_hardware):
    statuses = plan(read_grid(REPO / "leaderboards" / "grid.yaml"), tmp_path / "runs")
    runnable = {s.cell.method for s in statuses if s.held_back is None}
    assert runnable == {"att2seq", "peter", "retrieval"}
    assert all("has no bf16 hardware" in s.detail for s in statuses if s.held_back)


def test_a_complete_cell_is_never_held_back(tmp_path, no_bf16_hardware, monkeypatch):
    grid = tmp_path / "grid.yaml"
    grid.write_text(WITH_BF16, encoding="utf-8")
    monkeypatch.setattr(sweep_module, "cell_status",
                        lambda cell, output_dir, current: CellStatus(cell, CellState.COMPLETE, "computed", None))
    statuses = plan(read_grid(grid), tmp_path / "runs")
    assert len(statuses) == 4 and all(s.held_back is None and s.detail == "computed" for s in statuses)


@pytest.mark.parametrize("state, keep_stale, executor, held", [
    (CellState.MISSING, False, "inline", True),
    (CellState.STALE, False, "local", True),  # it would run again: held back, its stale result stays
    (CellState.STALE, True, "inline", False),  # kept as it is, so nothing to hold back
    (CellState.MISSING, False, "slurm", False),  # the jobs run on compute nodes this process cannot see
])
def test_only_a_cell_the_sweep_would_run_here_is_held_back(tmp_path, no_bf16_hardware, monkeypatch, state, keep_stale,
                                                          executor, held):
    grid = tmp_path / "grid.yaml"
    grid.write_text(WITH_BF16, encoding="utf-8")
    monkeypatch.setattr(sweep_module, "cell_status",
                        lambda cell, output_dir, current: CellStatus(cell, state, "as found", None))
    statuses = plan(read_grid(grid), tmp_path / "runs", keep_stale=keep_stale, executor=executor)
    assert [s.held_back is not None for s in statuses] == [False, False, held, held]


@pytest.mark.parametrize("value", ["1", "yes", "Run"])
def test_any_other_value_of_the_override_is_refused_in_one_sentence(tmp_path, no_bf16_hardware, monkeypatch, value):
    grid = tmp_path / "grid.yaml"
    grid.write_text(WITH_BF16, encoding="utf-8")
    monkeypatch.setenv(machine.RUN_EMULATED_VARIABLE, value)
    with pytest.raises(UserError, match=rf"^XREC_BENCH_EMULATED_BF16 must be 'run' .* or unset, not '{value}'\.$"):
        plan(read_grid(grid), tmp_path / "runs")
