"""Same run id, same machine: identical predictions, for a word-level baseline and for XRec.

Each case runs `xrec-bench run` twice, as a user would, into two output directories; the run ids
must agree, and so must every prediction and the trained weights. (Across machines, bf16 kernels
may differ; the README's Reproducibility section says by how much.)
"""

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


def run_twice(tmp_path: Path, *args: str) -> list[Path]:
    result_paths = []
    for name in ("first", "second"):
        done = run_cli("run", *args, "--metrics", "usr,lexical", "--output-dir", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        result_paths.append(Path(done.stdout.strip().splitlines()[-1]))
    return result_paths


def predictions(result_path: Path) -> list[tuple[str, str]]:
    lines = (result_path.parent / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    return [(row["sample_id"], row["prediction"]) for row in map(json.loads, lines)]


def weights_digest(result_path: Path) -> dict[str, str]:
    model = result_path.parent / "model"
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(model.glob("*.safetensors"))}


@pytest.mark.parametrize("method, settings", [
    ("nrt", ["--limit", "96", "--set", "method.max_epochs=2"]),
    ("xrec", ["--limit", "8", "--set", "method.generation.max_new_tokens=12"]),  # one training step of 8
])
def test_the_same_run_id_gives_identical_predictions(method, settings, mirror, tmp_path):
    first, second = run_twice(tmp_path, "--method", method, "--dataset", "yelp-mini", *settings)
    assert first.parent.name == second.parent.name  # the run id
    assert first.parent != second.parent
    ours, theirs = predictions(first), predictions(second)
    assert len(ours) == 8 if method == "xrec" else len(ours) == 96
    assert len({text for _, text in ours}) > 1 and all(text.strip() for _, text in ours)  # real, varied text
    assert ours == theirs
    digest = weights_digest(first)
    assert digest and digest == weights_digest(second)
    metrics = [json.loads(path.read_text(encoding="utf-8"))["metrics"] for path in (first, second)]
    assert metrics[0]["bleu4"]["value"] == metrics[1]["bleu4"]["value"]
