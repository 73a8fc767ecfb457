"""One result schema (RunResult, upgraded from older versions), the provenance a run records at its
start, the shared file helpers, and `xrec-bench score` on the run's own score and write stages."""

import json
import os
from pathlib import Path

import pytest
from xrec_bench import config as run_config
from xrec_bench import results
from xrec_bench.errors import UserError
from xrec_bench.files import atomic_write_text, config_hash, staged_directory
from xrec_bench.registry import methods
from xrec_bench.results import SCHEMA_VERSION, ResultFileError, RunResult
from xrec_bench.runner import run
from xrec_bench.score_files import score_file
from xrec_bench.statistics import compare_runs

from tests.conftest import REPO
from tests.core.test_runner import CountingEcho

COMMITTED = sorted((REPO / "leaderboards").rglob("result.json"))
# A result file of schema version 1, as commit 4d38dc3 wrote it (a --limit 64 XRec run of the first
# ablation board, since replaced in leaderboards/ by the full-split one), so the upgrade stays tested.
SCHEMA_V1 = Path(__file__).parent / "schema_v1" / "s0-0b0a84ea41" / "result.json"


def test_every_committed_result_loads_upgraded_to_the_current_schema():
    versions = {path: json.loads(path.read_text())["schema_version"] for path in [*COMMITTED, SCHEMA_V1]}
    assert versions[SCHEMA_V1] == 1 and len(COMMITTED) >= 54 + 24 + 3  # main grid, ablation grids, released
    for path, version in versions.items():
        result = RunResult.from_disk(path.parent)
        assert result.complete and result.run_id == path.parent.name
        assert result.to_dict()["schema_version"] == SCHEMA_VERSION
        assert result.environment["git_commit"] == json.loads(path.read_text())["environment"]["git_commit"]
        if version == 1:
            assert result.environment["git_dirty"] is None and result.started_at is None  # not recorded in v1
        else:
            assert result.started_at and len(result.environment["code_tree"]) == 20


def test_a_result_reads_back_as_written_and_a_future_schema_is_named(tmp_path):
    written = RunResult(run_id="s0-abc", profile="cpu", seed=0, method={"name": "m", "config": {"k": 1}},
                        dataset={"name": "d"}, metrics={}, training=None, environment={"git_dirty": False},
                        started_at="2026-01-01T00:00:00Z")
    path = written.to_disk(tmp_path)
    assert RunResult.from_disk(path) == written
    future = {**json.loads(path.read_text()), "schema_version": SCHEMA_VERSION + 1}
    path.write_text(json.dumps(future))
    with pytest.raises(ResultFileError, match=f"schema version {SCHEMA_VERSION + 1}") as raised:
        RunResult.from_disk(tmp_path)
    assert isinstance(raised.value, UserError) and str(path) in str(raised.value)


def test_the_code_version_is_the_one_the_run_started_with(tmp_path, mirror, monkeypatch):
    """A commit made (or a file edited) while a run fits must not be what its result claims."""
    tree = {"head": "a" * 40 + "\n", "status": ""}
    monkeypatch.setattr(results, "_git", lambda *args: tree["head"] if args[0] == "rev-parse" else tree["status"])

    class EditedWhileFitting(CountingEcho):
        def fit(self, splits, ctx):
            tree.update(head="b" * 40 + "\n", status=" M benchmark/runner.py\n")
            return super().fit(splits, ctx)

    methods.add("edited-while-fitting", EditedWhileFitting, summary="test double")
    config = run_config.resolve(method="edited-while-fitting", dataset="yelp-mini", metric_names=["usr"], limit=8)
    result = RunResult.from_disk(run(config, tmp_path, log=lambda _: None))
    assert result.environment["git_commit"] == "a" * 40 and result.environment["git_dirty"] is False
    assert result.started_at is not None and result.started_at <= result.created_at


def test_an_interrupted_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "result.json"
    atomic_write_text(path, "old\n")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_staged_directory_replaces_its_target_whole_or_not_at_all(tmp_path):
    target = tmp_path / "model"
    with staged_directory(target) as staging:
        (staging / "weights").write_text("1")
    with pytest.raises(RuntimeError), staged_directory(target) as staging:
        (staging / "weights").write_text("2")
        raise RuntimeError("killed while saving")
    assert (target / "weights").read_text() == "1" and sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with staged_directory(target) as staging:
        (staging / "other").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["other"]


def test_the_config_hash_ignores_key_order_and_keys_run_ids():
    assert config_hash({"a": 1, "b": {"c": 2, "d": 3}}) == config_hash({"b": {"d": 3, "c": 2}, "a": 1})
    assert config_hash({"a": 1}, 10) == config_hash({"a": 1})[:10] != config_hash({"a": 2}, 10)
    resolved = run_config.resolve(method="retrieval", dataset="yelp-mini")
    semantic = {k: v for k, v in resolved.items() if k != "runtime"}
    assert run_config.run_id(resolved) == f"s0-{config_hash(semantic, 10)}"


def test_scoring_a_file_uses_no_method_layer_and_invents_no_record_ids(tmp_path):
    predictions, references = tmp_path / "preds.txt", tmp_path / "refs.txt"
    predictions.write_text("a good place\nnice food here\n", encoding="utf-8")
    references.write_text("a good place\nthe food is nice\n", encoding="utf-8")
    arguments = {"predictions": str(predictions), "references": str(references), "dataset": None,
                 "profile": "cpu", "metric_names": ["usr", "lexical"], "output_dir": tmp_path / "runs",
                 "show_progress": False}
    path = score_file(assignments=[], **arguments)
    result = RunResult.from_disk(path)
    assert result.method["name"] == "file-preds" and set(result.method["config"]) == {"name", "path", "sha256"}
    assert result.dataset == {"name": "custom", "test_split": "file", "n_scored": 2, "splits": {"test": 2}}
    assert result.environment["git_commit"] is None or len(result.environment["git_commit"]) == 40
    rows = [json.loads(line) for line in (path.parent / "samples.jsonl").read_text().splitlines()]
    assert [row["sample_id"] for row in rows] == ["line-1", "line-2"]
    assert all("uid" not in row and "iid" not in row for row in rows)
    assert yaml_method(path.parent) == result.method["config"]
    with pytest.raises(UserError, match="Unknown setting method.temperature"):
        score_file(assignments=["method.temperature=0.5"], **arguments)


def yaml_method(run_dir: Path) -> dict:
    return run_config.load_yaml((run_dir / "config.yaml").read_text(encoding="utf-8"))["method"]


def test_compare_needs_the_result_of_each_run(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "samples.jsonl").write_text(json.dumps({"sample_id": "s1", "scores": {"usr": 1.0}}) + "\n")
    with pytest.raises(UserError, match="result.json: it does not exist"):
        compare_runs(tmp_path / "a", tmp_path / "b")


def test_the_code_tree_changes_with_the_package_source_only(tmp_path, monkeypatch):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    for path in ("benchmark/core.py", "benchmark/leaderboard/board.py", "benchmark/sweep/grid.py", "methods/m.py", "metrics/x.py",
                 "pyproject.toml", "README.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("v1\n", encoding="utf-8")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    monkeypatch.setattr(results, "SOURCE_TREE", tmp_path)
    first = results.Provenance.now()
    assert first.code_tree and first.code_dirty is False and first.git_dirty is False

    (tmp_path / "README.md").write_text("v2\n", encoding="utf-8")  # docs: the tree is dirty, the code is not
    docs_edited = results.Provenance.now()
    assert docs_edited.git_dirty is True and docs_edited.code_dirty is False
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "docs")
    docs_committed = results.Provenance.now()
    assert docs_committed.git_commit != first.git_commit and docs_committed.code_tree == first.code_tree

    # no run imports the board builder or the sweep: editing them leaves the code of a run unchanged
    for path in ("benchmark/leaderboard/board.py", "benchmark/sweep/grid.py"):
        (tmp_path / path).write_text("v2\n", encoding="utf-8")
        assert results.Provenance.now().code_dirty is False
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", path)
        assert results.Provenance.now().code_tree == first.code_tree

    for path in ("methods/m.py", "metrics/x.py", "pyproject.toml"):  # each of these is code of a run
        (tmp_path / path).write_text("v3\n", encoding="utf-8")
        assert results.Provenance.now().code_dirty is True
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", path)
        assert results.Provenance.now().code_tree != first.code_tree
        git("reset", "-q", "--hard", "HEAD~1")

    (tmp_path / "benchmark" / "new.py").write_text("x = 1\n", encoding="utf-8")  # untracked code counts
    assert results.Provenance.now().code_dirty is True
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "code")
    code_committed = results.Provenance.now()
    assert code_committed.code_dirty is False and code_committed.code_tree != first.code_tree


def test_a_runs_code_tree_holds_its_own_method_package_and_the_packages_it_names(tmp_path, monkeypatch):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    sources = {"benchmark/core.py": "v1\n", "methods/__init__.py": "v1\n",
               # alpha names shared only in a lazy import, shared names leaf in a string: both count
               "methods/alpha/__init__.py": "def fit():\n    from xrec_bench.methods.shared import x\n",
               "methods/shared/__init__.py": 'MODULE = "xrec_bench.methods.leaf.model"\n',
               "methods/leaf/model.py": "v1\n", "methods/beta/__init__.py": "v1\n"}
    for path, text in sources.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    monkeypatch.setattr(results, "SOURCE_TREE", tmp_path)
    modules = ("xrec_bench.methods.alpha", "xrec_bench.methods.beta", "my_plugin.method", None)
    first = {module: results.Provenance.now(module) for module in modules}
    assert first["my_plugin.method"].code_tree == first[None].code_tree  # a plugin's run: every package
    assert len({first[module].code_tree for module in modules[:3]}) == 3

    def changed(path):
        """The runs whose code an uncommitted edit of ``path`` touches, checked against whose tree its commit changes."""
        (tmp_path / path).write_text("v2\n", encoding="utf-8")
        dirty = {module for module in modules if results.Provenance.now(module).code_dirty}
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", path)
        new_tree = {module for module in modules if results.Provenance.now(module).code_tree != first[module].code_tree}
        git("reset", "-q", "--hard", "HEAD~1")
        assert dirty == new_tree
        return new_tree

    assert changed("methods/beta/__init__.py") == {"xrec_bench.methods.beta", "my_plugin.method", None}
    assert changed("methods/leaf/model.py") == {"xrec_bench.methods.alpha", "my_plugin.method", None}
    assert changed("benchmark/core.py") == set(modules)
    assert changed("methods/__init__.py") == set(modules)
    (tmp_path / "methods" / "gamma").mkdir()  # a new package no method names is code of no built-in run
    (tmp_path / "methods" / "gamma" / "__init__.py").write_text("x = 1\n", encoding="utf-8")
    assert {module for module in modules if results.Provenance.now(module).code_dirty} == {"my_plugin.method", None}


def test_each_built_in_methods_code_holds_every_method_package_importing_it_loads():
    """The text scan finds at least the packages Python loads when the method's modules are imported."""
    import subprocess
    import sys

    from xrec_bench.run_code import method_package, package_closure

    for name in methods.names():
        package = method_package(methods.get(name).__module__)
        if package is None:
            continue
        script = (f"import pkgutil, importlib, sys, xrec_bench.methods.{package} as p\n"
                  f"for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.'): importlib.import_module(m.name)\n"
                  f"print(' '.join(sorted({{n.split('.')[2] for n in sys.modules if n.startswith('xrec_bench.methods.')}})))")
        loaded = set(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                                    text=True).stdout.split())
        assert package in loaded and loaded <= package_closure(REPO, package), name
