"""BLEURT through ``bleurt-pytorch``: a learned regression score of each (reference, prediction) pair.

Checkpoints differ in scale and are not comparable, so the checkpoint is a config value recorded
with every result: ``lucadiliello/BLEURT-20`` (``paper`` profile), ``lucadiliello/BLEURT-20-D12``
(``cpu`` profile, distilled), any other converted checkpoint's hub id, or a local directory.
bleurt-pytorch 0.0.1 imports only on transformers < 5, which the project pins. Without the
checkpoint the metric is skipped; it never scores with another model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xrec_bench.errors import MetricUnavailable
from xrec_bench.loaded_scorers import load_once
from xrec_bench.metrics.per_sample import summarise
from xrec_bench.plugin import Metric, MetricResult, RunContext, ValueSpec
from xrec_bench.registry import metrics


def load_bleurt(path: str, device: str):
    """BLEURT tokenizer and eval-mode regression model, loaded once per process."""

    def load() -> tuple[Any, Any]:
        from bleurt_pytorch import BleurtForSequenceClassification, BleurtTokenizer

        return (BleurtTokenizer.from_pretrained(path),
                BleurtForSequenceClassification.from_pretrained(path).to(device).eval())

    return load_once("bleurt", (path, device), load)


def bleurt_scores(tokenizer, model, references: Sequence[str], candidates: Sequence[str], *,
                  batch_size: int = 32, max_length: int = 512) -> list[float]:
    """One BLEURT score per pair, batched in length order (the reference is the first segment)."""
    import torch

    order = sorted(range(len(references)), key=lambda i: (len(references[i]) + len(candidates[i]), i))
    scores: list[float] = [0.0] * len(references)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        inputs = tokenizer([references[i] for i in batch], [candidates[i] for i in batch], padding="longest",
                           truncation=True, max_length=max_length, return_tensors="pt").to(model.device)
        with torch.no_grad():
            logits = model(**inputs).logits.flatten().tolist()
        for position, value in zip(batch, logits):
            scores[position] = value
    return scores


@metrics.register("bleurt", summary="BLEURT (bleurt-pytorch), checkpoint a config value (BLEURT-20 family)")
class BLEURT(Metric):
    values = {"bleurt": ValueSpec("sample")}
    defaults = {"checkpoint": "lucadiliello/BLEURT-20", "max_length": 512, "batch_size": 32}
    # The distilled 12-layer BLEURT-20 is the CPU-sized member of the family.
    profiles = {"cpu": {"checkpoint": "lucadiliello/BLEURT-20-D12"}, "paper": {}}

    def score(self, predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext) -> dict[str, MetricResult]:
        from xrec_bench.models import ModelNotAvailable, locate

        checkpoint = self.config["checkpoint"]
        try:
            path = locate(checkpoint)
        except ModelNotAvailable as exc:
            raise MetricUnavailable(f"{exc} (BLEURT needs the checkpoint {checkpoint}; set "
                                    f"metrics.bleurt.checkpoint to its local directory.)") from None
        tokenizer, model = load_bleurt(path, ctx.device)
        max_length = int(self.config["max_length"])
        values = bleurt_scores(tokenizer, model, list(references), list(predictions),
                               batch_size=int(self.config["batch_size"]), max_length=max_length)
        config = {"checkpoint": checkpoint, "max_length": max_length}
        return {"bleurt": summarise(values, config, declared=self.values["bleurt"])}
