"""What a run checks before it writes or trains anything: the device, and every metric setting."""

from __future__ import annotations

import pytest
from xrec_bench.config import resolve
from xrec_bench.devices import require_device
from xrec_bench.errors import UserError

from tests.conftest import run_cli


@pytest.mark.parametrize("device", ["cpu", "cuda", "cuda:1"])
def test_device_names_reach_runtime_device(device):
    config = resolve(method="retrieval", dataset="yelp-mini", device=device)
    assert config["runtime"]["device"] == device
    assert resolve(method="retrieval", dataset="yelp-mini", device="cpu")["runtime"]["device"] == "cpu"


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CPU", "mps"])
def test_a_misspelt_device_is_refused(device):
    with pytest.raises(UserError, match="runtime.device must be cpu, cuda or cuda:N"):
        resolve(method="retrieval", dataset="yelp-mini", device=device)
    if device != "cuda:":  # YAML reads `cuda:` as a mapping, refused as not a string
        with pytest.raises(UserError, match="runtime.device must be cpu, cuda or cuda:N"):
            resolve(method="retrieval", dataset="yelp-mini", assignments=[f"runtime.device={device}"])


def test_a_gpu_this_machine_lacks_is_refused_by_run_before_anything_is_written(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    done = run_cli("run", "--method", "retrieval", "--dataset", "yelp-mini", "--metrics", "usr",
                   "--device", "cuda", "--output-dir", str(tmp_path / "runs"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "--device cuda needs" in done.stderr and "pass --device cpu" in done.stderr
    assert not (tmp_path / "runs").exists()
    with pytest.raises(UserError, match="--device cuda:1 needs"):
        require_device("cuda:1")


def test_gpu_index_beyond_the_machine_is_refused(monkeypatch):
    import torch

    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    require_device("cuda:1")
    with pytest.raises(UserError, match=r"has 2 GPUs \(cuda:0 to cuda:1\)"):
        require_device("cuda:2")


@pytest.mark.parametrize("value", ["abc", "0", "-4", "2.5", "null", "true"])
def test_a_bad_metric_batch_size_is_refused_when_the_config_resolves(value):
    with pytest.raises(UserError, match="metrics.bertscore.batch_size must be"):
        resolve(method="retrieval", dataset="yelp-mini", metric_names=["bertscore"],
                assignments=[f"metrics.bertscore.batch_size={value}"])


def test_a_whole_float_batch_size_is_the_same_setting():
    config = resolve(method="xrec", dataset="yelp-mini", assignments=["method.generation.batch_size=4.0",
                                                                      "metrics.bleurt.batch_size=8.0"])
    assert config["method"]["generation"]["batch_size"] == 4 and config["metrics"]["bleurt"]["batch_size"] == 8


def test_run_refuses_a_bad_metric_setting_before_fitting(tmp_path):
    done = run_cli("run", "--method", "att2seq", "--dataset", "yelp-mini", "--limit", "8", "--set",
                   "metrics.bertscore.batch_size=abc", "--output-dir", str(tmp_path / "runs"))
    assert done.returncode == 2 and "metrics.bertscore.batch_size must be" in done.stderr
    assert "stage fit" not in done.stderr and not (tmp_path / "runs").exists()


def test_each_process_of_a_multi_gpu_launch_gets_its_own_gpu():
    from xrec_bench.devices import process_device

    assert process_device("cuda", {"LOCAL_RANK": "3", "RANK": "7"}) == "cuda:3"
    assert process_device("cuda", {}) == "cuda"
    assert process_device("cuda:1", {"LOCAL_RANK": "3"}) == "cuda:1"
    assert process_device("cpu", {"LOCAL_RANK": "3"}) == "cpu"
