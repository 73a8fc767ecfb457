"""BERTScore P / R / F1 through the ``bert-score`` library, rescaled with a per-layer baseline.

``paper`` profile: XRec's setting (``lang="en"``: roberta-large, layer 17, bert-score's shipped
baseline). ``cpu`` profile: all-MiniLM-L6-v2 (layer 6) with the baseline this project builds with
``calibrate_baseline`` and ships in ``metrics/baselines/``. The two are different metric configs
and the result config says which one produced a number.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from xrec_bench.errors import MetricUnavailable, UserError
from xrec_bench.files import sha256_of
from xrec_bench.loaded_scorers import load_once
from xrec_bench.metrics.per_sample import summarise
from xrec_bench.plugin import Metric, MetricResult, RunContext, ValueSpec
from xrec_bench.registry import metrics


def shipped_baseline(model: str) -> Path | None:
    """The rescale baseline this package ships for an offline model name, if any."""
    path = Path(str(resources.files("xrec_bench.metrics.baselines").joinpath(f"{model}.tsv")))
    return path if path.is_file() else None


def library_baseline(model: str, lang: str) -> Path | None:
    """The baseline bert-score ships for a hub model name (none exist for local directories)."""
    import bert_score

    path = Path(bert_score.__file__).parent / "rescale_baseline" / lang / f"{model}.tsv"
    return path if path.is_file() else None


# metrics.bertscore.precision: "fp32", or "bf16": the encoder's forward under bfloat16 autocast (its
# matrix products in bf16; LayerNorm, the token similarities and the rescaling in fp32). Faster only
# where the CPU has hardware bf16; tests/metrics_models/test_perf_bertscore.py reports how far its F1
# lands from fp32's.
PRECISIONS = ("fp32", "bf16")


class AutocastEncoder:
    """The encoder bert-score calls (``model(ids, attention_mask=...)[0]``), run under bf16 autocast and
    returning fp32 token embeddings."""

    def __init__(self, model: Any, device_type: str):
        self.model, self.device_type = model, device_type

    def __getattr__(self, name: str) -> Any:  # parameters(), config, eval() ... of the wrapped encoder
        return getattr(self.model, name)

    def __call__(self, *args: Any, **kwargs: Any) -> tuple:
        import torch

        with torch.autocast(self.device_type, dtype=torch.bfloat16):
            out = self.model(*args, **kwargs)
        return (out[0].float(), *out[1:])


def load_scorer(model_path: str, num_layers: int | None, *, baseline_path: Path | None, lang: str,
                device: str, batch_size: int, precision: str = "fp32"):
    """A ``bert_score.BERTScorer``, loaded once per process for each configuration."""

    def load():
        import torch
        from bert_score import BERTScorer

        scorer = BERTScorer(model_type=model_path, num_layers=num_layers, lang=lang, device=device,
                            rescale_with_baseline=baseline_path is not None,
                            baseline_path=str(baseline_path) if baseline_path is not None else None,
                            batch_size=batch_size)
        if precision == "bf16":
            scorer._model = AutocastEncoder(scorer._model, torch.device(device).type)
        return scorer

    return load_once("bertscore", (model_path, num_layers, str(baseline_path), lang, device, precision), load)


@metrics.register("bertscore", summary="BERTScore precision/recall/F1 (bert-score library), rescaled")
class BERTScore(Metric):
    values = dict.fromkeys(("bertscore_p", "bertscore_r", "bertscore_f1"), ValueSpec("sample"))
    choices = {"precision": PRECISIONS}
    defaults = {
        "model": "roberta-large",  # an offline model name, a local directory or a hub id
        "num_layers": 17,
        "rescale": True,
        # null: bert-score's shipped baseline for hub names, the project's for offline names;
        # otherwise a path to a LAYER,P,R,F file.
        "baseline": None,
        "lang": "en",
        "batch_size": 64,
        "precision": "fp32",  # fp32 | bf16 (see PRECISIONS), fp32 in every profile
    }
    profiles = {
        "cpu": {"model": "all-minilm-l6-v2", "num_layers": 6},
        "paper": {"model": "roberta-large", "num_layers": 17},
    }

    @classmethod
    def calibrate(cls, model: str, output: Path | None = None, **settings: Any) -> Path:
        """Build ``model``'s rescale baseline (``xrec-bench metrics calibrate bertscore``); by default into
        the package's baselines folder, where ``shipped_baseline`` finds it. ``settings``: n_pairs, seed,
        device, batch_size of ``calibrate_baseline``."""
        from xrec_bench.metrics.bertscore_baseline import calibrate_baseline

        baselines = Path(str(resources.files("xrec_bench.metrics.baselines")))
        return calibrate_baseline(model, output or baselines / f"{Path(model).name}.tsv", **settings)

    def _baseline_path(self) -> Path | None:
        if not self.config["rescale"]:
            return None
        chosen = self.config.get("baseline")
        if chosen:
            path = Path(chosen).expanduser()
            if not path.is_file():
                raise UserError(f"BERTScore baseline file {path} does not exist; pass an existing "
                                f"LAYER,P,R,F file as metrics.bertscore.baseline.")
            return path
        model = self.config["model"]
        path = shipped_baseline(model) or library_baseline(model, self.config["lang"])
        if path is None:
            raise UserError(f"No rescale baseline is known for BERTScore model {model!r}; build one with "
                            f"`xrec-bench metrics calibrate bertscore --model {model}` and pass it as "
                            f"metrics.bertscore.baseline, or set metrics.bertscore.rescale=false.")
        return path

    def result_config(self, baseline: Path | None) -> dict[str, Any]:
        return {
            "model": self.config["model"],
            "num_layers": self.config["num_layers"],
            "idf": False,
            "rescale": baseline is not None,
            "baseline": sha256_of(baseline) if baseline is not None else None,
            "lang": self.config["lang"],
            "precision": self.config["precision"],
            "bert_score": metadata.version("bert-score"),
        }

    def score(self, predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext) -> dict[str, MetricResult]:
        from xrec_bench.models import ModelNotAvailable, locate

        baseline = self._baseline_path()
        config = self.result_config(baseline)
        try:
            model_path = locate(self.config["model"])
        except ModelNotAvailable as exc:
            raise MetricUnavailable(str(exc)) from None
        scorer = load_scorer(model_path, self.config["num_layers"], baseline_path=baseline,
                             lang=config["lang"], device=ctx.device, batch_size=self.config["batch_size"],
                             precision=config["precision"])
        precision, recall, f1 = scorer.score(list(predictions), list(references),
                                             batch_size=self.config["batch_size"])
        return {
            name: summarise(part.tolist(), config, declared=spec)
            for (name, spec), part in zip(self.values.items(), (precision, recall, f1))
        }
