"""U+2028, U+2029 and U+0085 are text inside a line, never line breaks, in every line file xrec-bench reads."""

import json

import pytest
from xrec_bench import config as run_config
from xrec_bench.plugin import Method
from xrec_bench.registry import methods
from xrec_bench.run_directory import read_predictions
from xrec_bench.runner import run
from xrec_bench.score_files import read_texts
from xrec_bench.statistics import compare_runs

ODD_BREAKS = "\u2028\u2029\u0085"


class OddBreaks(Method):
    needs_training = False

    def explain(self, records, ctx):
        return [f"You would enjoy {r.title}{ODD_BREAKS}really" for r in records]


methods.add("odd-breaks", OddBreaks, summary="test double")


def test_predictions_with_unicode_line_separators_are_read_back_whole(tmp_path):
    rows = [{"sample_id": f"s{i}", "prediction": f"a{ODD_BREAKS}b{i}"} for i in range(3)]
    (tmp_path / "all.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                        encoding="utf-8")
    assert read_predictions(tmp_path) == {r["sample_id"]: r["prediction"] for r in rows}


def test_a_sharded_run_with_unicode_line_separators_finishes_and_compares(tmp_path, mirror):
    config = run_config.resolve(method="odd-breaks", dataset="yelp-mini", metric_names=["lexical"], limit=20)
    run(config, tmp_path, shard=(1, 2), log=lambda _: None)
    path = run(config, tmp_path, shard=(2, 2), log=lambda _: None)
    assert path.name == "result.json"
    samples = (path.parent / "samples.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(samples) == 20 and all(ODD_BREAKS in json.loads(line)["prediction"] for line in samples)
    comparison = compare_runs(path.parent, path.parent, n_resamples=10)
    assert comparison and all(row["status"] in ("ok", "skipped") for row in comparison.values())


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_a_20_line_file_is_20_predictions(tmp_path, suffix):
    texts = [f"prediction {i}{ODD_BREAKS if i % 3 == 0 else ''} end" for i in range(20)]
    path = tmp_path / f"preds{suffix}"
    lines = texts if suffix == ".txt" else [json.dumps(t, ensure_ascii=False) for t in texts]
    path.write_text("\r\n".join(lines[:10]) + "\r\n" + "\n".join(lines[10:]) + "\n", encoding="utf-8")
    assert read_texts(path, "prediction") == texts
