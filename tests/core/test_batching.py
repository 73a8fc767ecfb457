"""Batches are formed once over the length-sorted test set: predictions never depend on explain_chunk,
shards or where a run was resumed."""

import hashlib
import json

import pytest
from xrec_bench import config as run_config
from xrec_bench.plugin import Method
from xrec_bench.registry import methods
from xrec_bench.runner import run


class Stop(Exception):
    pass


class BatchSensitive(Method):
    """Like a bf16 batched decoder: each output depends on the other records of its batch of 4."""

    needs_training = False
    explain_batch_size = 4
    calls: list[list[str]] = []
    stop_after: int | None = None

    def explain(self, records, ctx):
        if BatchSensitive.stop_after is not None and len(BatchSensitive.calls) >= BatchSensitive.stop_after:
            raise Stop()
        BatchSensitive.calls.append([r.sample_id for r in records])
        outputs = []
        for start in range(0, len(records), 4):
            batch = records[start:start + 4]
            mark = hashlib.sha256(",".join(r.sample_id for r in batch).encode()).hexdigest()[:8]
            outputs += [f"You would enjoy {r.title} [{mark}]" for r in batch]
        return outputs


methods.add("batch-sensitive", BatchSensitive, summary="test double")


@pytest.fixture(autouse=True)
def reset():
    BatchSensitive.calls, BatchSensitive.stop_after = [], None


def samples(path):
    return [json.loads(line) for line in (path.parent / "samples.jsonl").read_text().split("\n")[:-1]]


def config(chunk):
    return run_config.resolve(method="batch-sensitive", dataset="yelp-mini", metric_names=["usr"], limit=30,
                              assignments=[f"runtime.explain_chunk={chunk}"])


def test_predictions_do_not_depend_on_chunks_shards_or_resumes(tmp_path, mirror):
    reference = samples(run(config(64), tmp_path / "whole", log=lambda _: None))
    assert samples(run(config(6), tmp_path / "chunk6", log=lambda _: None)) == reference
    for index in (1, 2, 3):
        path = run(config(8), tmp_path / "sharded", shard=(index, 3), log=lambda _: None)
    assert samples(path) == reference
    BatchSensitive.stop_after = 1
    with pytest.raises(Stop):
        run(config(4), tmp_path / "resumed", log=lambda _: None)
    BatchSensitive.stop_after = None
    assert samples(run(config(12), tmp_path / "resumed", log=lambda _: None)) == reference


def test_methods_get_whole_batches_of_the_length_sorted_test_set(tmp_path, mirror):
    run(config(10), tmp_path, log=lambda _: None)
    assert all(len(call) % 4 == 0 for call in BatchSensitive.calls[:-1]) and len(BatchSensitive.calls[0]) == 8
    order = [sample_id for call in BatchSensitive.calls for sample_id in call]
    from xrec_bench.data import load_dataset

    test = {r.sample_id: r for r in load_dataset("yelp-mini", need_train=False).test[:30]}
    key = [(BatchSensitive({}).batch_key(test[s]), s) for s in order]
    assert key == sorted(key) and len(order) == 30
