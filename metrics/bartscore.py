"""BARTScore (neulab): the mean per-token log-likelihood of the reference given the prediction.

As neulab's ``BARTScorer.score(srcs=predictions, tgts=references)``: the reference is tokenised with
its special tokens, fed as ``labels`` (the model shifts them right for the decoder), and the score
is −(summed token NLL, padding ignored) / (reference length in tokens). Default checkpoint
``facebook/bart-large-cnn``, max length 1024; ``weights`` optionally loads a state dict over it
(the ParaBank2 ``bart_score.pth`` the XRec authors used). Pairs are sorted by length and batched.
Without the checkpoint the metric is skipped; it never scores with another model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xrec_bench.errors import MetricUnavailable, UserError
from xrec_bench.loaded_scorers import load_once
from xrec_bench.metrics.per_sample import summarise
from xrec_bench.plugin import Metric, MetricResult, RunContext, ValueSpec
from xrec_bench.registry import metrics


def load_bart(model_path: str, weights: Path | None, device: str):
    """Tokenizer and eval-mode seq2seq model (with ``weights`` loaded over it), once per process."""

    def load() -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForSeq2SeqLM.from_pretrained(model_path, dtype=torch.float32)
        if weights is not None:
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return tokenizer, model.to(device).eval()

    return load_once("bartscore", (model_path, str(weights), device), load)


def bart_log_likelihoods(tokenizer, model, sources: Sequence[str], targets: Sequence[str], *,
                         batch_size: int = 4, max_length: int = 1024) -> list[float]:
    """Mean token log-likelihood of each target given its source, batched in length order."""
    import torch

    order = sorted(range(len(sources)), key=lambda i: (len(sources[i]) + len(targets[i]), i))
    scores: list[float] = [0.0] * len(sources)
    pad = model.config.pad_token_id
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        source = tokenizer([sources[i] for i in batch], max_length=max_length, truncation=True,
                           padding=True, return_tensors="pt").to(model.device)
        target = tokenizer([targets[i] for i in batch], max_length=max_length, truncation=True,
                           padding=True, return_tensors="pt").to(model.device)
        with torch.no_grad():
            logits = model(input_ids=source["input_ids"], attention_mask=source["attention_mask"],
                           labels=target["input_ids"]).logits
            nll = torch.nn.functional.nll_loss(torch.log_softmax(logits.float(), dim=-1).transpose(1, 2),
                                               target["input_ids"], ignore_index=pad, reduction="none")
            mean_nll = nll.sum(dim=1) / target["attention_mask"].sum(dim=1)
        for position, value in zip(batch, mean_nll.tolist()):
            scores[position] = -value
    return scores


@metrics.register("bartscore", summary="BARTScore (neulab): mean log-likelihood of the reference given the prediction")
class BARTScore(Metric):
    values = {"bartscore": ValueSpec("sample")}
    defaults = {
        "model": "facebook/bart-large-cnn",
        "weights": None,  # optional state dict over the model, e.g. the ParaBank2 bart_score.pth
        "max_length": 1024,
        "batch_size": 4,
    }
    profiles = {"cpu": {}, "paper": {}}

    def result_config(self, weights: Path | None) -> dict[str, Any]:
        from xrec_bench.files import sha256_of

        return {"model": self.config["model"], "weights": sha256_of(weights) if weights else None,
                "max_length": int(self.config["max_length"]), "direction": "prediction->reference"}

    def score(self, predictions: Sequence[str], references: Sequence[str],
              ctx: RunContext) -> dict[str, MetricResult]:
        from xrec_bench.models import ModelNotAvailable, locate

        weights = Path(self.config["weights"]).expanduser() if self.config.get("weights") else None
        if weights is not None and not weights.is_file():
            raise UserError(f"BARTScore weights file {weights} does not exist; pass the path of "
                            f"bart_score.pth as metrics.bartscore.weights, or set it to null.")
        try:
            model_path = locate(self.config["model"])
        except ModelNotAvailable as exc:
            raise MetricUnavailable(f"{exc} (BARTScore needs {self.config['model']}; set "
                                    f"metrics.bartscore.model to its local directory.)") from None
        tokenizer, model = load_bart(model_path, weights, ctx.device)
        values = bart_log_likelihoods(tokenizer, model, list(predictions), list(references),
                                      batch_size=int(self.config["batch_size"]),
                                      max_length=int(self.config["max_length"]))
        return {"bartscore": summarise(values, self.result_config(weights), declared=self.values["bartscore"])}
