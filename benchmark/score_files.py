"""`xrec-bench score`: score any predictions file the way a run does, writing the same files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xrec_bench import config as run_config
from xrec_bench.data.safe_pickle import load_string_list
from xrec_bench.errors import UserError
from xrec_bench.line_files import split_lines
from xrec_bench.models import sha256_of
from xrec_bench.plugin import RunContext
from xrec_bench.progress import progress_factory
from xrec_bench.records import Record
from xrec_bench.results import atomic_write_text
from xrec_bench.runner import cache_dir, score_all, write_run
from xrec_bench.stages import StageLog


def read_texts(path: str | Path, key: str) -> list[str]:
    """Texts from .jsonl (a string per line, or objects with ``key``), .txt (one per line) or .pkl (list of str).

    Lines end at ``\\n`` only (``xrec_bench.line_files``): a .txt of N lines is N texts, whatever else they hold.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a directory; pass a .jsonl, .txt or .pkl file (a run's predictions are "
                        f"in its samples.jsonl).")
    if not path.is_file():
        raise UserError(f"{path} does not exist; pass an existing .jsonl, .txt or .pkl file.")
    if path.suffix in (".pkl", ".pickle"):
        texts = load_string_list(path)
    else:
        try:
            lines = split_lines(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise UserError(f"{path} is not UTF-8 text (bad byte at offset {exc.start}); re-encode it as UTF-8.") from None
        if path.suffix == ".jsonl":
            texts = []
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    raise UserError(f"{path} line {number} is not JSON; write one JSON string or object per line.") from None
                if isinstance(item, dict):
                    item = item.get(key)
                if not isinstance(item, str):
                    raise UserError(f"{path} line {number} has no {key!r} string; each line needs one.")
                texts.append(item)
        elif path.suffix == ".txt":
            texts = lines
        else:
            raise UserError(f"{path} has suffix {path.suffix!r}; use .jsonl, .txt or .pkl.")
    if not texts:
        raise UserError(f"{path} holds no {key}s; it must not be empty.")
    if not any(text.strip() for text in texts):
        raise UserError(f"{path} holds only blank {key}s; it must hold at least one non-blank line.")
    return texts


def references_for(predictions_path: Path, dataset: str) -> tuple[list[Record], str]:
    """The dataset's test references; for the released tst_pred.pkl itself, the released references."""
    from xrec_bench.data import load_dataset
    from xrec_bench.data.fetch import manifest

    released_sha = {e.sha256 for (ds, f), e in manifest().items() if f == "tst_pred.pkl" and e.sha256}
    if predictions_path.suffix in (".pkl", ".pickle") and sha256_of(predictions_path) in released_sha:
        # The released predictions are in tst_ref.pkl's order, not tst.pkl's: pair them as published.
        return load_dataset(dataset, need_train=False, need_released=True).released, "released"
    return load_dataset(dataset, need_train=False).test, "test"


def score_file(*, predictions: str, references: str | None, dataset: str | None, profile: str,
               metric_names: list[str] | None, assignments: list[str], output_dir: Path,
               show_progress: bool = True) -> Path:
    predictions_path = Path(predictions)
    texts = read_texts(predictions_path, "prediction")
    if (references is None) == (dataset is None):
        raise UserError("Give exactly one of --references FILE or --dataset NAME.")
    if references is not None:
        refs = read_texts(references, "reference")
        records = [Record(f"line-{i + 1}", -1, -1, "", "", "", ref) for i, ref in enumerate(refs)]
        test_split, cell = "file", "custom"
    else:
        records, test_split = references_for(predictions_path, dataset)
        cell = dataset
    if len(texts) != len(records):
        raise UserError(f"{predictions_path} has {len(texts)} predictions but there are {len(records)} "
                        f"references; they must pair one to one.")
    config = run_config.resolve(method="published", dataset=cell, profile=profile, metric_names=metric_names,
                                assignments=assignments)
    config["method"] = {"name": "file", "path": str(predictions_path.resolve()),
                        "sha256": sha256_of(predictions_path)}
    if references is not None:
        config["references"] = {"path": str(Path(references).resolve()), "sha256": sha256_of(Path(references))}
    run_dir = Path(output_dir) / cell / f"file-{predictions_path.stem}" / run_config.run_id(config)
    stages = StageLog()
    ctx = RunContext(device=config["runtime"]["device"], seed=int(config["seed"]), config=config,
                     scratch_dir=run_dir / "scratch", cache_dir=cache_dir(),
                     progress=progress_factory(show_progress))
    payloads, per_sample = score_all(config, texts, [r.explanation or "" for r in records], ctx, stages)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", run_config.dump(config))
    info: dict[str, Any] = {"name": cell, "test_split": test_split, "n_scored": len(records),
                            "splits": {"test": len(records)}}
    return write_run(run_dir, config, records, texts, payloads, per_sample, dataset_info=info,
                     method_info={"name": f"file-{predictions_path.stem}", "version": "1", "config": config["method"]},
                     training=None, stages=stages, device=ctx.device)
