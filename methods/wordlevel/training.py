"""The training loop of the word-level baselines: batching, one epoch, validation, and the report.

Each model offers ``losses(users, items, sequences) -> {"objective", "text_nll", "text_tokens"}``:
the objective is what the optimiser minimises (token-mean losses, as in the official code); the
validation criterion is the text NLL of the validation split, averaged per ``valid_criterion``
(``xrec_bench.methods.wordlevel.validation``: the official batch-size-weighted mean of per-batch token means,
or the token-weighted mean). XRec data has no ratings, so no rating term enters it (the official
NRT adds the rating MSE, PETER adds it when ``rating_reg`` > 0; docs/fidelity.md, NRT and PETER).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from xrec_bench.allocator import keep_within_budget
from xrec_bench.methods.wordlevel.early_stopping import train_with_early_stopping
from xrec_bench.methods.wordlevel.sequences import EncodedSplit
from xrec_bench.methods.wordlevel.tokenizer import PAD_ID
from xrec_bench.methods.wordlevel.validation import ValidationMean
from xrec_bench.stages import peak_rss_mb


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated by torch on CUDA; on CPU the peak resident set size of the process."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mb()


def batches(split: EncodedSplit, batch_size: int, generator: torch.Generator | None) -> Iterator[tuple]:
    """Slices of ``batch_size`` records, in order when ``generator`` is None, else in a seeded shuffle."""
    n = len(split)
    order = torch.arange(n) if generator is None else torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        sequences = split.sequences[index]
        # Drop pad columns past the longest sentence but one: losses and masks are unchanged (pads are
        # ignored), and the kept pad column leaves every <eos> inside PETER's context targets [1:-1].
        length = min(int((sequences != PAD_ID).sum(dim=1).max()) + 1, sequences.shape[1])
        yield split.users[index], split.items[index], sequences[:, :length]


def train_word_model(model: torch.nn.Module, optimizer: torch.optim.Optimizer, train: EncodedSplit,
                     valid: EncodedSplit, *, batch_size: int, max_epochs: int, endure: int,
                     clip_norm: float | None, seed: int, device: torch.device, progress: Callable,
                     on_no_improvement: Callable[[int], None] | None = None,
                     precision: str = "fp32",
                     valid_criterion: str = "official-batch-weighted") -> dict[str, Any]:
    """Train with the official protocol and reload the best epoch; returns the training report.

    ``precision="bf16-autocast"`` runs the forward passes under bfloat16 autocast (weights and
    optimiser stay fp32); "fp32" is the official setting (``xrec_bench.methods.wordlevel.precision``). ``valid_criterion`` is one of
    ``xrec_bench.methods.wordlevel.validation.CRITERIA``; validation batches have ``batch_size`` records, in
    split order, as officially. Both are checked against the method's ``choices`` when the config is resolved.
    """

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-autocast")

    generator = torch.Generator().manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    n_batches = (len(train) + batch_size - 1) // batch_size

    epoch_lrs: list[float] = []

    def run_epoch(epoch: int) -> float:
        model.train()
        epoch_lrs.append(optimizer.param_groups[0]["lr"])
        total, count = 0.0, 0
        # Epoch 1 runs in data order, later epochs shuffled, as in the official Batchify (its
        # next_batch shuffles only when it wraps around; docs/fidelity.md, "Shared word-level parts").
        order = None if epoch == 1 else generator
        bar = progress(batches(train, batch_size, order), total=n_batches, desc=f"epoch {epoch}")
        for users, items, sequences in bar:
            users, items, sequences = users.to(device), items.to(device), sequences.to(device)
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                objective = model.losses(users, items, sequences)["objective"]
            objective.backward()
            if clip_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            optimizer.step()
            keep_within_budget()
            loss = float(objective.detach())
            total += loss * users.shape[0]
            bar.report(loss=loss, lr=epoch_lrs[-1])
            count += users.shape[0]
        return total / max(count, 1)

    @torch.no_grad()
    def validate() -> float:
        model.eval()
        criterion = ValidationMean(valid_criterion)
        for users, items, sequences in batches(valid, batch_size, None):
            with autocast():
                out = model.losses(users.to(device), items.to(device), sequences.to(device))
            criterion.add(float(out["text_nll"]), users.shape[0], int(out["text_tokens"]))
        return criterion.value

    def snapshot() -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    report = train_with_early_stopping(run_epoch, validate, snapshot, model.load_state_dict,
                                       max_epochs=max_epochs, endure=endure,
                                       on_no_improvement=on_no_improvement, progress=progress)
    for entry, lr in zip(report["history"], epoch_lrs):
        entry["lr"] = lr
    if precision == "bf16-autocast" and device.type == "cpu" and any(isinstance(m, torch.nn.LSTM) for m in model.modules()):
        from xrec_bench.methods.wordlevel.recurrent import cpu_has_bf16_lstm

        if not cpu_has_bf16_lstm():
            report["precision_note"] = "bf16 autocast, with the LSTM in fp32: this CPU has no bf16 LSTM kernel"
    report["peak_memory_mb"] = peak_memory_mb(device)
    report["peak_memory_kind"] = "cuda_allocated" if device.type == "cuda" else "process_max_rss"
    return report
