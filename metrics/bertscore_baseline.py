"""Building a BERTScore rescale baseline for a model bert-score has none for (a documented, seeded procedure).

bert-score's authors computed, for every layer, the mean P/R/F of BERTScore over many random
pairs of unrelated sentences; rescaling maps that chance level to 0: (s - b) / (1 - b).
Here the corpus is the text of the public XRec test files (``tst.pkl`` of amazon, google and
yelp: every explanation, user profile and item profile, 27,000 texts); ``n_pairs`` candidate /
reference pairs are drawn uniformly with ``numpy.random.default_rng(seed)``, a pair being redrawn
while both texts come from the same row (so no pair is an explanation with its own profiles).
The per-layer means are written as bert-score's ``LAYER,P,R,F`` file, and a JSON file beside it
records the corpus checksums, seed, pair count, model sha256 and library versions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

CORPUS_DATASETS = ("amazon", "google", "yelp")
CORPUS_COLUMNS = ("explanation", "user_summary", "item_summary")
CHUNK_PAIRS = 500


def calibration_corpus() -> tuple[list[str], list[str], dict[str, str]]:
    """Texts and their row keys (``dataset:row``) from the XRec test files, plus the files' sha256."""
    from xrec_bench.data.fetch import ensure_file
    from xrec_bench.data.safe_pickle import load_dataframe
    from xrec_bench.files import sha256_of

    texts, rows, checksums = [], [], {}
    for dataset in CORPUS_DATASETS:
        path = ensure_file(dataset, "tst.pkl")
        checksums[f"{dataset}/tst.pkl"] = sha256_of(path)
        frame = load_dataframe(path)
        for index, record in enumerate(frame[list(CORPUS_COLUMNS)].itertuples(index=False)):
            for text in record:
                texts.append(str(text).strip())
                rows.append(f"{dataset}:{index}")
    return texts, rows, checksums


def draw_pairs(rows: Sequence[str], n_pairs: int, seed: int) -> list[tuple[int, int]]:
    """``n_pairs`` (candidate, reference) indices into ``rows``, never two texts of the same row."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pairs = []
    while len(pairs) < n_pairs:
        i, j = (int(k) for k in rng.integers(0, len(rows), size=2))
        if rows[i] != rows[j]:
            pairs.append((i, j))
    return pairs


def calibrate_baseline(model: str, output: Path, *, n_pairs: int = 10_000, seed: int = 0,
                       device: str = "cpu", batch_size: int = 64,
                       corpus: tuple[list[str], list[str], dict[str, str]] | None = None) -> Path:
    """Write ``output`` (LAYER,P,R,F; row k = hidden layer k, row 0 the embeddings) and its JSON record."""
    import numpy as np
    from bert_score import BERTScorer
    from transformers import AutoConfig
    from xrec_bench.files import sha256_of
    from xrec_bench.models import OFFLINE_MODELS, resolve

    texts, rows, checksums = corpus if corpus is not None else calibration_corpus()
    pairs = draw_pairs(rows, n_pairs, seed)
    model_path = resolve(model)
    layers = AutoConfig.from_pretrained(model_path).num_hidden_layers
    scorer = BERTScorer(model_type=model_path, num_layers=layers, all_layers=True,
                        lang="en", device=device, batch_size=batch_size)
    totals = np.zeros((layers + 1, 3), dtype=np.float64)
    # bert-score keeps every sentence's all-layer embeddings for one call: chunk to bound memory.
    for start in range(0, len(pairs), CHUNK_PAIRS):
        chunk = pairs[start:start + CHUNK_PAIRS]
        scores = scorer.score([texts[i] for i, _ in chunk], [texts[j] for _, j in chunk],
                              batch_size=batch_size)  # P, R, F: each (layers + 1, len(chunk))
        totals += np.stack([s.double().sum(1).numpy() for s in scores], axis=1)
    means = totals / len(pairs)

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    lines = ["LAYER,P,R,F"] + [f"{layer},{p:.8f},{r:.8f},{f:.8f}" for layer, (p, r, f) in enumerate(means)]
    output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    offline = OFFLINE_MODELS.get(model)
    record = {
        "model": model,
        "model_sha256": offline.sha256 if offline else None,
        "procedure": __doc__.split("\n\n", 1)[1].strip().replace("\n", " "),
        "corpus": {"files": checksums, "columns": list(CORPUS_COLUMNS), "texts": len(texts)},
        "seed": seed,
        "n_pairs": n_pairs,
        "sampler": "numpy.random.default_rng(seed).integers(0, texts, size=2) per pair, same-row pairs redrawn",
        "layers": len(means),
        "baseline_sha256": sha256_of(output),
        "versions": {name: metadata.version(name) for name in ("bert-score", "transformers", "torch", "numpy")},
    }
    output.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return output
