"""Data-parallel training through accelerate under torchrun: 2 CPU processes (gloo), one result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_process_training_ends_with_identical_adapters(tmp_path, tokenizer_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29561",
               str(REPO / "tests" / "xrec" / "ddp_worker.py"), str(tmp_path), tokenizer_dir]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in (0, 1)]
    assert ranks[0].keys() == ranks[1].keys()
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["result.json"]
    report = json.loads((tmp_path / "result.json").read_text())
    assert report["processes"] == 2
    assert report["steps"] == 2  # 8 records, batch 2 per process, 2 processes: 2 steps each
    # The adapters really trained (identical because gradients were averaged, not because nothing moved).
    assert not torch.equal(ranks[0]["user.w_gate"], torch.zeros_like(ranks[0]["user.w_gate"]))
