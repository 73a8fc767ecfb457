"""PEPLER's two-stage sequential tuning (lileipisces/PEPLER main.py), each stage with official early stopping.

Stage 1 trains the prompt vectors (plus the token embeddings when
``stage1_train_token_embeddings``, the official run's behaviour); stage 2 trains everything. Each
stage gets a fresh AdamW (weight decay 0, eps 1e-6: transformers.AdamW's defaults), a fresh
cumulative early-stopping counter, and ends by reloading its best state. The validation loss is
averaged per ``valid_criterion`` (``xrec_bench.methods.wordlevel.validation``).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from xrec_bench.allocator import keep_within_budget
from xrec_bench.methods.pepler import LENGTH_SETTINGS
from xrec_bench.methods.pepler.encoding import batch_order, encode_explanation, iterate_batches, row_slices
from xrec_bench.methods.pepler.generation import autocast, autocast_off
from xrec_bench.methods.pepler.model import PromptedLM
from xrec_bench.methods.wordlevel.early_stopping import train_with_early_stopping
from xrec_bench.methods.wordlevel.ids import IdMap
from xrec_bench.methods.wordlevel.training import peak_memory_mb
from xrec_bench.methods.wordlevel.validation import ValidationMean
from xrec_bench.plugin import RunContext
from xrec_bench.records import DatasetSplits, Record


@dataclass
class EncodedSplit:
    users: list[int]
    items: list[int]
    sequences: list[list[int]]

    @property
    def lengths(self) -> list[int]:
        return [len(s) for s in self.sequences]


def encode_split(records: Sequence[Record], tokenizer: Any, user_map: IdMap, item_map: IdMap,
                 max_tokens: int) -> EncodedSplit:
    return EncodedSplit([user_map(r.uid) for r in records], [item_map(r.iid) for r in records],
                        [encode_explanation(tokenizer, r.explanation or "", max_tokens) for r in records])


def max_tokens_of(config: dict[str, Any]) -> int:
    return LENGTH_SETTINGS[config["length"]]


class StageTrainer:
    """Runs epochs and validation passes of one model; shared by both stages."""

    def __init__(self, model: PromptedLM, tokenizer: Any, train: EncodedSplit, valid: EncodedSplit,
                 config: dict[str, Any], ctx: RunContext):
        self.model, self.tokenizer, self.train, self.valid = model, tokenizer, train, valid
        self.config, self.ctx = config, ctx
        self.generator = torch.Generator().manual_seed(ctx.seed)
        self.optimizer: torch.optim.Optimizer | None = None

    def _nll(self, batch: tuple[torch.Tensor, ...], backward: bool) -> tuple[float, int]:
        """The batch's summed text-token NLL and its token count, computed in slices of rows
        (``encoding.row_slices``: at most ``training.micro_batch_size`` rows and
        ``training.micro_batch_positions`` padded positions each, padded only to their own longest row).

        With ``backward``, each slice adds the gradient of its share of the batch's token mean
        (its summed NLL over the batch's token count), so the accumulated gradient is the one of
        the whole batch at once; only one slice's activations and logits are alive at a time.

        One autocast context spans the whole batch, so each trained weight is cast to bf16 once per
        batch, not once per slice (autocast keeps its casts of trained leaves until the outermost
        context exits); each slice's backward runs with autocast off, as torch recommends. The
        values are the same as with one context per slice.
        """
        users, items, ids, mask = (t.to(self.ctx.device) for t in batch)
        count = int(mask.sum())
        training = self.config["training"]
        lengths = mask.sum(dim=1).tolist()
        total = 0.0
        with autocast(self.ctx.device, self.config["precision"] != "fp32"):
            for part in row_slices(lengths, training["micro_batch_size"], training["micro_batch_positions"]):
                width = max(lengths[part])
                nll, _ = self.model.nll_sum(users[part], items[part], ids[part, :width], mask[part, :width])
                if backward:
                    with autocast_off(self.ctx.device):
                        (nll / count).backward()
                total += float(nll.detach())
                del nll
                # What this slice freed goes back before the next slice allocates its own, when the
                # process is over its budget (runtime.allocator=bounded).
                keep_within_budget()
        return total, count  # one target per text token (the item position predicts <bos>)

    def run_epoch(self, epoch: int, stage: int) -> float:
        self.model.train()
        batches = batch_order(self.train.lengths, self.config["training"]["batch_size"], self.generator,
                              self.config["group_by_length"])
        total, tokens = 0.0, 0
        stream = iterate_batches(self.train.users, self.train.items, self.train.sequences, batches,
                                 self.tokenizer.pad_token_id)
        bar = self.ctx.progress(stream, total=len(batches), desc=f"pepler stage {stage} epoch {epoch}")
        for batch in bar:
            nll, count = self._nll(batch, backward=True)
            bar.report(loss=nll / count, lr=self.optimizer.param_groups[0]["lr"])
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            keep_within_budget()
            total, tokens = total + nll, tokens + count
        return total / max(tokens, 1)

    @torch.no_grad()
    def validate(self) -> float:
        """The validation NLL: per-batch token means averaged per ``valid_criterion``.

        "official-batch-weighted" weights each batch by its records, as the official evaluate()
        does; "token-weighted" by its target tokens (the mean over every token of the split).
        """
        self.model.eval()
        batches = batch_order(self.valid.lengths, self.config["training"]["batch_size"], None,
                              self.config["group_by_length"])
        criterion = ValidationMean(self.config["valid_criterion"])
        for batch in iterate_batches(self.valid.users, self.valid.items, self.valid.sequences, batches,
                                     self.tokenizer.pad_token_id):
            nll, count = self._nll(batch, backward=False)
            criterion.add(nll / count, len(batch[0]), count)
        return criterion.value

    def run_stage(self, stage: int) -> dict[str, Any]:
        settings = self.config[f"stage{stage}"]
        self.model.set_stage(stage, self.config["stage1_train_token_embeddings"])
        self.optimizer = torch.optim.AdamW(self.model.trainable_parameters(), lr=settings["lr"],
                                           eps=self.config["adam_eps"], weight_decay=self.config["weight_decay"])
        trained = {name for name, p in self.model.named_parameters() if p.requires_grad}
        with tempfile.TemporaryDirectory(prefix=f"pepler-stage{stage}-best-", dir=self.ctx.scratch_dir) as keep:
            best_file = Path(keep) / "best.safetensors"

            def snapshot() -> Path:
                # On disk, not in memory: stage 2's best state is all 135M weights (540 MB in fp32).
                save_file({name: p.detach().contiguous() for name, p in self.model.named_parameters()
                           if name in trained}, str(best_file))
                return best_file

            def restore(path: Path) -> None:
                state = load_file(str(path))
                with torch.no_grad():
                    for name, p in self.model.named_parameters():
                        if name in state:
                            p.copy_(state[name])

            report = train_with_early_stopping(lambda epoch: self.run_epoch(epoch, stage), self.validate,
                                               snapshot, restore, settings["max_epochs"], self.config["endure"])
        report["trainable_parameters"] = sum(p.numel() for p in self.model.trainable_parameters())
        self.optimizer = None
        return report


def train_two_stages(model: PromptedLM, tokenizer: Any, splits: DatasetSplits, user_map: IdMap,
                     item_map: IdMap, config: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """Both stages; returns the training report (history per stage and epoch, stopped epochs, peak memory)."""
    started = time.perf_counter()
    max_tokens = max_tokens_of(config)
    train = encode_split(splits.train, tokenizer, user_map, item_map, max_tokens)
    valid = encode_split(splits.valid, tokenizer, user_map, item_map, max_tokens)
    model.to(ctx.device)
    trainer = StageTrainer(model, tokenizer, train, valid, config, ctx)
    initial_valid_loss = trainer.validate()
    stages = {stage: trainer.run_stage(stage) for stage in (1, 2)}
    history = [{"stage": stage, **row} for stage, report in stages.items() for row in report["history"]]
    return {
        "history": history,
        "stopped_epoch": {f"stage{stage}": report["stopped_epoch"] for stage, report in stages.items()},
        "stages": {f"stage{stage}": {k: v for k, v in report.items() if k != "history"}
                   for stage, report in stages.items()},
        "initial_valid_loss": initial_valid_loss,
        # Each stage reloads its own best epoch (a fresh best, as officially), so the model ends with this loss.
        "final_valid_loss": next((r["best_valid_loss"] for r in (stages[2], stages[1]) if r["history"]),
                                 initial_valid_loss),
        "max_tokens": max_tokens,
        "train_tokens_per_epoch": sum(train.lengths),
        "train_seconds": time.perf_counter() - started,
        "peak_memory_mb": peak_memory_mb(torch.device(ctx.device)),
        "peak_memory_kind": "cuda_allocated" if torch.device(ctx.device).type == "cuda" else "process_max_rss",
    }
