"""`xrec-bench score`: score any predictions file the way a run does, writing the same files."""

from __future__ import annotations

import json
from pathlib import Path

from xrec_bench import config as run_config
from xrec_bench.data.safe_pickle import load_string_list
from xrec_bench.errors import UserError
from xrec_bench.files import sha256_of
from xrec_bench.line_files import split_lines
from xrec_bench.models import cache_root, require_fetched
from xrec_bench.plugin import RunContext
from xrec_bench.progress import progress_factory
from xrec_bench.records import Record
from xrec_bench.results import Provenance
from xrec_bench.run_directory import RunDirectory
from xrec_bench.sample_files import is_gzipped_jsonl, read_text
from xrec_bench.scoring import ScoredSample, score_all, write_run
from xrec_bench.stages import StageLog


def read_texts(path: str | Path, key: str) -> list[str]:
    """Texts from .jsonl or .jsonl.gz (a string per line, or objects with ``key``), .txt (one per line) or
    .pkl (list of str).

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
            lines = split_lines(read_text(path))
        except UnicodeDecodeError as exc:
            raise UserError(f"{path} is not UTF-8 text (bad byte at offset {exc.start}); re-encode it as UTF-8.") from None
        if path.suffix == ".jsonl" or is_gzipped_jsonl(path):
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
            raise UserError(f"{path} has suffix {path.suffix!r}; use .jsonl, .jsonl.gz, .txt or .pkl.")
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
    """Score a predictions file against a references file or a dataset's test set, through the score
    and write stages of a run; return the path of its result.json."""
    provenance = Provenance.now()
    predictions_path = Path(predictions)
    texts = read_texts(predictions_path, "prediction")
    if (references is None) == (dataset is None):
        raise UserError("Give exactly one of --references FILE or --dataset NAME.")
    if references is not None:
        references_path = Path(references)
        reference_texts = read_texts(references_path, "reference")
        samples = [ScoredSample(f"line-{i + 1}", reference, text)
                   for i, (reference, text) in enumerate(zip(reference_texts, texts))]
        n_references, test_split, cell = len(reference_texts), "file", "custom"
    else:
        records, test_split = references_for(predictions_path, dataset)
        samples = [ScoredSample(r.sample_id, r.explanation or "", text, r.uid, r.iid)
                   for r, text in zip(records, texts)]
        n_references, cell = len(records), dataset
    if len(texts) != n_references:
        raise UserError(f"{predictions_path} has {len(texts)} predictions but there are {n_references} "
                        f"references; they must pair one to one.")
    config = run_config.resolve(method=None, dataset=cell, profile=profile, metric_names=metric_names,
                                assignments=assignments)
    require_fetched(config)  # before anything is written, as `run` does
    # What is scored stands where a run's method stands: the file, by path and content.
    config["method"] = {"name": "file", "path": str(predictions_path.resolve()),
                        "sha256": sha256_of(predictions_path)}
    if references is not None:
        config["references"] = {"path": str(references_path.resolve()), "sha256": sha256_of(references_path)}
    name = f"file-{predictions_path.stem}"
    run_dir = RunDirectory.of(output_dir, config, name)
    stages = StageLog()
    ctx = RunContext(device=config["runtime"]["device"], seed=int(config["seed"]), config=config,
                     scratch_dir=run_dir.scratch_dir, cache_dir=cache_root(),
                     progress=progress_factory(show_progress))
    scores = score_all(config, [s.prediction for s in samples], [s.reference for s in samples], ctx, stages)
    run_dir.start(config)
    write_run(run_dir, samples, scores, config=config,
              method={"name": name, "version": "1", "config": config["method"]},
              dataset={"name": cell, "test_split": test_split, "n_scored": len(samples),
                       "splits": {"test": len(samples)}},
              training=None, stages=stages, provenance=provenance, device=ctx.device)
    return run_dir.result_path
