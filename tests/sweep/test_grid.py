"""Grid files: what they expand to, that a cell is the run `xrec-bench run` would start, and refusals."""

import pytest
from xrec_bench import config as run_config
from xrec_bench.errors import UserError
from xrec_bench.sweep import read_grid
from xrec_bench.sweep.grid import expand_cells

from tests.conftest import REPO, run_cli
from tests.sweep.conftest import TINY


def grid_file(tmp_path, text, name="grid.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_cell_is_the_run_that_the_same_run_options_resolve_to(tmp_path):
    text = TINY + "variants: {base: {}, items: {method.same_item_weight: 2}}\n"
    cells = expand_cells(read_grid(grid_file(tmp_path, text)))
    assert [(c.variant, c.seed) for c in cells] == [("base", 0), ("base", 1), ("items", 0), ("items", 1)]
    items = cells[3]
    assert items.config == run_config.resolve(method="retrieval", dataset="yelp-mini", seed=1, limit=8,
                                              metric_names=["lexical", "usr"], assignments=["method.same_item_weight=2"])
    done = run_cli("config", "--method", "retrieval", "--dataset", "yelp-mini", "--seed", "1", "--limit", "8",
                   "--metrics", "lexical,usr", "--set", "method.same_item_weight=2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"# run id: {items.run_id}"
    assert items.run_directory(tmp_path).path == tmp_path / "yelp-mini" / "retrieval" / items.run_id


def test_set_by_method_reaches_only_the_cells_of_its_method(tmp_path):
    text = ("methods: [retrieval, nrt]\ndatasets: [yelp-mini]\nseeds: [0]\n"
            "set_by_method: {nrt: {method.precision: bf16-autocast}}\n")
    retrieval, nrt = expand_cells(read_grid(grid_file(tmp_path, text)))
    assert nrt.config == run_config.resolve(method="nrt", dataset="yelp-mini", seed=0,
                                            assignments=["method.precision=bf16-autocast"])
    assert retrieval.config == run_config.resolve(method="retrieval", dataset="yelp-mini", seed=0)


def test_the_committed_grids_pin_precision_so_every_machine_computes_the_same_cells():
    main = {"xrec": "bf16-weights", "att2seq": "fp32", "peter": "fp32", "nrt": "bf16-autocast",
            "pepler": "bf16-autocast", "retrieval": None}
    # The ablation board's cells are fp32, so that a CPU without bf16 hardware computes them too.
    for name, pinned in (("grid.yaml", main), ("ablations-grid.yaml", {"xrec": "fp32"}),
                         ("zeroshot-grid.yaml", {"xrec": "fp32"})):
        cells = expand_cells(read_grid(REPO / "leaderboards" / name))
        assert {c.method: c.config["method"].get("precision") for c in cells} == pinned, name


def test_the_committed_grids_expand_to_the_boards_cells():
    main = expand_cells(read_grid(REPO / "leaderboards" / "grid.yaml"))
    assert len(main) == 3 * 6 * 3
    assert {(c.dataset, c.method, c.seed) for c in main} == {
        (d, m, s) for d in ("amazon-mini", "google-mini", "yelp-mini")
        for m in ("xrec", "att2seq", "nrt", "peter", "pepler", "retrieval") for s in (0, 1, 2)}
    assert {c.config["profile"] for c in main} == {"cpu"}
    ablations = expand_cells(read_grid(REPO / "leaderboards" / "ablations-grid.yaml"))
    switches = ("injection", "profiles_in_prompt", "adapter", "graph_embeddings")
    found = {(c.dataset, c.variant): tuple(c.config["method"][k] for k in switches) for c in ablations}
    assert found[("yelp-mini", "base")] == ("all-layers", True, "moe", "lightgcn")
    assert found[("yelp-mini", "input-only")] == ("input-only", True, "moe", "lightgcn")
    assert found[("yelp-mini", "no-injection")] == ("none", True, "moe", "lightgcn")
    assert found[("yelp-mini", "no-profiles")] == ("all-layers", False, "moe", "lightgcn")
    assert found[("yelp-mini", "no-profiles-input-only")] == ("input-only", False, "moe", "lightgcn")
    assert found[("yelp-mini", "linear-adapter")] == ("all-layers", True, "linear", "lightgcn")
    assert found[("yelp-mini", "random-graph")] == ("all-layers", True, "moe", "random")
    assert {c.config["limit"] for c in ablations} == {None}  # the full mini split, never --limit
    assert {c.seed for c in ablations} == {0, 1, 2}
    zeroshot = expand_cells(read_grid(REPO / "leaderboards" / "zeroshot-grid.yaml"))
    assert {(c.dataset, c.method, c.seed) for c in zeroshot} == {("yelp-mini-zeroshot", "xrec", s) for s in (0, 1, 2)}
    assert {c.config["limit"] for c in zeroshot} == {None}
    # An fp32 XRec cell holds about 5.2 GB; under a lower budget `bounded` trims after every step.
    assert {c.config["runtime"]["memory_budget_mb"] for c in ablations + zeroshot} == {8192}
    # A bf16 PEPLER fit on a full mini split holds about 4.1 GB through stage 2; 3,584 MB trimmed every step.
    assert {c.config["runtime"]["memory_budget_mb"] for c in main if c.method == "pepler"} == {6144}


@pytest.mark.parametrize("text, message", [
    (TINY + "metric: [usr]\n", "has unknown key metric; the known keys are methods, datasets, seeds"),
    ("methods: [retrieval]\n", "has no datasets list"),
    (TINY.replace("[0, 1]", "[0, zero]"), "seeds must be a non-empty list of whole numbers"),
    (TINY.replace("[retrieval]", "[retrieval, retrieval]"), "methods lists a name twice"),
    (TINY + "profile: gpu\n", "profile must be one of cpu, paper"),
    (TINY.replace("limit: 8", "seed: 3"), "set sets seed, which a grid chooses with its seeds key"),
    (TINY + "variants: {a: {}, b: {method.same_item_weight: 1.0}}\n", "variants a and b give the same run"),
    (TINY + "variants: {a: [method.same_item_weight=3]}\n", "variant a must be a mapping of settings to values"),
    (TINY + "slurm: {partition: gpu, gpu: 1}\n", "slurm has unknown submitit parameter gpu"),
    (TINY + "local: {array_parallelism: 4}\n", "local.array_parallelism is set with --max-parallel"),
    ("methods: [retrival]\ndatasets: [yelp-mini]\n", "Did you mean 'retrieval'?"),
    ("methods: [retrieval]\ndatasets: [yelp-mimi]\n", "yelp-mimi"),
    (TINY.replace("limit: 8", "limt: 8"), "Unknown setting limt; did you mean limit?"),
    ("methods: [retrieval\n", "is not valid YAML"),
    (TINY + "set_by_method: {nrt: {method.precision: fp32}}\n", "set_by_method names nrt, which is not in its methods"),
    (TINY + "set_by_method: [retrieval]\n", "set_by_method must map method names to settings"),
    (TINY + "set_by_method: {retrieval: {seed: 1}}\n", "set_by_method retrieval sets seed"),
    # Regression: a YAML date went through JSON text and raised a TypeError traceback.
    (TINY.replace("limit: 8", "limit: 2024-01-01"), "limit must be a whole number of at least 1"),
])
def test_a_bad_grid_is_refused_with_one_sentence(tmp_path, text, message):
    with pytest.raises(UserError, match=None) as refused:
        expand_cells(read_grid(grid_file(tmp_path, text)))
    assert message in str(refused.value)


def test_a_bad_grid_exits_2_on_the_command_line_and_writes_nothing(tmp_path):
    grid = grid_file(tmp_path, TINY + "metric: [usr]\n")
    out = tmp_path / "runs"
    done = run_cli("sweep", str(grid), "--output-dir", str(out))
    assert done.returncode == 2
    expected = (f"error: Grid file {grid} has unknown key metric; the known keys are methods, datasets, seeds, "
                f"profile, set, set_by_method, variants, local, slurm.")
    assert done.stderr.strip().splitlines() == [expected]
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (("--executor", "slurm"), "needs slurm.time (minutes a cell may run) for --executor slurm"),
    (("--max-parallel", "2"), "The inline executor runs one cell at a time"),
])
def test_executor_options_that_cannot_work_exit_2(tmp_path, args, message):
    out = tmp_path / "runs"
    done = run_cli("sweep", str(grid_file(tmp_path, TINY)), "--output-dir", str(out), *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


def test_the_slurm_section_and_max_parallel_reach_the_sbatch_script(tmp_path, monkeypatch):
    from xrec_bench.sweep.executors import _make_executor

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:/usr/bin:/bin")
    grid = read_grid(grid_file(tmp_path, TINY + "slurm: {partition: gpu, gpus_per_node: 1, time: 720}\n"))
    executor = _make_executor("slurm", tmp_path / "jobs" / "%j", grid.slurm, max_parallel=3)
    executor.parameters["map_count"] = 54  # what a job array of 54 cells sets
    script = executor._make_submission_file_text("python -m submitit.core._submit", "uid")  # submitit's renderer
    for line in ("#SBATCH --array=0-53%3", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --time=720", "#SBATCH --job-name=xrec-bench"):
        assert line in script.splitlines()


def test_slurm_without_a_cluster_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    out = tmp_path / "runs"
    grid = grid_file(tmp_path, TINY + "slurm: {time: 60}\n")
    done = run_cli("sweep", str(grid), "--executor", "slurm", "--output-dir", str(out))
    assert done.returncode == 2 and "this machine has no srun on its PATH" in done.stderr, done.stderr
    assert not out.exists()


def test_grid_values_reach_the_config_as_the_yaml_gave_them(tmp_path):
    """Regression: set values went through JSON text, so .inf arrived as the string 'Infinity' and was refused."""
    text = TINY.replace("metrics.names: [lexical, usr]", "metrics.names: [lexical, usr, gptscore], "
                        "metrics.gptscore.deadline_s: .inf")
    cells = expand_cells(read_grid(grid_file(tmp_path, text)))
    assert cells[0].config["metrics"]["gptscore"]["deadline_s"] == float("inf")
    assert cells[0].config["metrics"]["names"] == ["lexical", "usr", "gptscore"]


def test_a_device_this_machine_lacks_exits_2_before_any_cell_writes(tmp_path):
    """Regression: the sweep ran a runtime.device: cuda cell on the CPU and recorded cuda as its device."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU, so runtime.device: cuda is no error here")
    out = tmp_path / "runs"
    grid = grid_file(tmp_path, TINY.replace("limit: 8", "limit: 8, runtime.device: cuda"))
    done = run_cli("sweep", str(grid), "--output-dir", str(out))
    assert done.returncode == 2 and "--device cuda needs" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("value", ["1e-4", "yes", "a: b", [1.5, "1e-4", None], float("inf"), {"k": "=x"}])
def test_a_grid_value_passes_to_set_as_the_same_value(value):
    from xrec_bench.sweep.grid import assignments

    (text,) = assignments({"a.b": value})
    assert run_config.parse_assignment(text) == {"a": {"b": value}}
