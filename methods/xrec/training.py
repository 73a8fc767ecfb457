"""Instruction tuning of the adapters on the frozen backbone: batched (right padding), loss on the
explanation tokens only, bf16 autocast optional, data-parallel through ``accelerate``."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from xrec_bench.allocator import keep_within_budget
from xrec_bench.methods.xrec.backbone import Backbone, use_attention
from xrec_bench.methods.xrec.injection import CollaborativeInjector
from xrec_bench.methods.xrec.prompting import PromptBuilder
from xrec_bench.progress import Progress, silent_progress
from xrec_bench.records import Record

IGNORE = -100


@dataclass
class Encoded:
    """One training record as token ids; ``target_start`` is where the loss begins."""

    index: int
    ids: list[int]
    target_start: int


class CollaborativeAdapters(nn.Module):
    """The trainable part: the user and item adapters (and their embedding tables as buffers)."""

    def __init__(self, user_adapter: nn.Module, item_adapter: nn.Module, user_table: torch.Tensor,
                 item_table: torch.Tensor):
        super().__init__()
        self.user = user_adapter
        self.item = item_adapter
        self.register_buffer("user_table", user_table, persistent=False)
        self.register_buffer("item_table", item_table, persistent=False)

    def lookup(self, table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        # Ids outside the graph (cold-start users or items) get the zero vector: no collaborative signal.
        inside = ids < table.shape[0]
        rows = table[ids.clamp(max=table.shape[0] - 1)]
        return rows * inside.unsqueeze(-1)

    def forward(self, uids: torch.Tensor, iids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.user(self.lookup(self.user_table, uids)), self.item(self.lookup(self.item_table, iids)))


def encode(records: Sequence[Record], builder: PromptBuilder, explain_token_id: int, max_target_tokens: int,
           loss_start: str = "target") -> list[Encoded]:
    """Each record's whole training text tokenised at once (as XRec does), and where its loss begins.

    ``loss_start``: ``explain-token`` trains the prediction of ``<EXPLAIN_POS>`` itself and everything
    after it (XRec's ``Explainer.loss`` masks the labels before the shift, at positions before that
    token); ``target`` trains only the tokens after the prompt (xrec_bench.methods.xrec.LOSS_STARTS).
    """
    encoded = []
    for index, record in enumerate(records):
        prompt, target = builder.training_pair(record)
        prompt_ids = builder.prompt_ids(prompt)
        ids = builder.prompt_ids(prompt + target)
        if ids[:len(prompt_ids)] != prompt_ids:
            raise ValueError(f"record {record.sample_id}: the prompt's tokens are not a prefix of the training "
                             f"text's tokens")
        ids = ids[:len(prompt_ids) + max_target_tokens]
        start = ids.index(explain_token_id) if loss_start == "explain-token" else len(prompt_ids)
        encoded.append(Encoded(index, ids, start))
    return encoded


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ids, attention mask, and labels with everything before the target masked."""
    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, e in enumerate(batch):
        ids[row, :len(e.ids)] = torch.tensor(e.ids)
        labels[row, e.target_start:len(e.ids)] = torch.tensor(e.ids[e.target_start:])
        mask[row, :len(e.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels,
            "index": torch.tensor([e.index for e in batch])}


def length_grouped_batches(encoded: Sequence[Encoded], batch_size: int, seed: int, group: int = 8) -> list[list[int]]:
    """Shuffled batches of similar length (sorted inside windows of ``group`` batches): less padding."""
    order = list(range(len(encoded)))
    random.Random(seed).shuffle(order)
    window = batch_size * group
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: len(encoded[i].ids))
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    random.Random(seed + 1).shuffle(batches)
    return batches


def per_record_loss(backbone: Backbone, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy over each record's target tokens, one value per record.

    The LM head runs only on the positions that predict a target token (the rest would be masked
    anyway), which saves the vocabulary projection on the whole prompt.
    """
    model = backbone.model
    hidden = model.get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                 use_cache=False).last_hidden_state
    targets = batch["labels"][:, 1:]
    predicting = targets != IGNORE
    logits = model.get_output_embeddings()(hidden[:, :-1][predicting])
    token_loss = F.cross_entropy(logits.float(), targets[predicting], reduction="none")
    rows = predicting.nonzero()[:, 0]
    sums = torch.zeros(targets.shape[0], device=token_loss.device).index_add(0, rows, token_loss)
    return sums / predicting.sum(1).clamp(min=1)


def batch_loss(backbone: Backbone, adapters: nn.Module, injector: CollaborativeInjector,
               records: Sequence[Record], batch: dict[str, torch.Tensor], bf16: bool) -> torch.Tensor:
    index = batch["index"].tolist()
    uids = torch.tensor([records[i].uid for i in index], device=batch["input_ids"].device)
    iids = torch.tensor([records[i].iid for i in index], device=batch["input_ids"].device)
    with torch.autocast(batch["input_ids"].device.type, dtype=torch.bfloat16, enabled=bf16):
        user_vectors, item_vectors = adapters(uids, iids)
        with injector.inject(user_vectors, item_vectors):
            return per_record_loss(backbone, batch)


def evaluate_loss(backbone, adapters, injector, records, encoded, cfg, pad_id, device, autocast: bool) -> float:
    adapters.eval()
    losses = []
    with torch.no_grad():
        for start in range(0, len(encoded), cfg["batch_size"]):
            batch = {k: v.to(device) for k, v in collate(encoded[start:start + cfg["batch_size"]], pad_id).items()}
            losses.append(batch_loss(backbone, adapters, injector, records, batch, autocast))
    adapters.train()
    return float(torch.cat(losses).mean()) if losses else float("nan")


def train(backbone: Backbone, adapters: CollaborativeAdapters, injector: CollaborativeInjector,
          builder: PromptBuilder, train_records: Sequence[Record], valid_records: Sequence[Record],
          cfg: dict[str, Any], seed: int, device: str,
          progress: Callable[..., Progress] = silent_progress, autocast: bool = False) -> dict[str, Any]:
    """Train the adapters (and LoRA weights, if any); returns history, stopped epoch and throughput.
    ``autocast``: forward passes under bf16 autocast (``method.precision`` other than fp32)."""
    import time

    from accelerate import Accelerator

    tokenizer = backbone.tokenizer
    pad_id = tokenizer.pad_token_id
    use_attention(backbone, cfg.get("attention"))
    torch.manual_seed(seed)
    accelerator = Accelerator(cpu=device == "cpu", gradient_accumulation_steps=cfg["grad_accum"])
    trainable = [p for p in list(adapters.parameters()) + list(backbone.model.parameters()) if p.requires_grad]
    def encoded_records(records: Sequence[Record]) -> list[Encoded]:
        return encode(records, builder, backbone.explain_token_id, cfg["max_target_tokens"], cfg["loss_start"])

    encoded = encoded_records(train_records)
    valid_encoded = encoded_records(valid_records[:cfg["valid_records"]])
    history: list[dict[str, Any]] = []
    if not trainable:  # e.g. injection "none" without LoRA: nothing learns, report the valid loss only
        valid = evaluate_loss(backbone, adapters, injector, valid_records, valid_encoded, cfg, pad_id, device,
                              autocast)
        return {"history": [{"epoch": 0, "train_loss": None, "valid_loss": valid}], "stopped_epoch": 0,
                "trainable_parameters": 0, "note": "no trainable parameters: nothing was trained"}
    # "The loss falls" is judged on two fixed sets in eval mode (no dropout, no gate noise), before
    # training and after every epoch: the first ``valid_records`` training records (train_eval_loss) and
    # as many validation records (valid_loss). The running train_loss mixes batches of different records.
    train_probe = encoded[:cfg["valid_records"]]

    def probe_losses() -> dict[str, float]:
        return {"train_eval_loss": evaluate_loss(backbone, adapters, injector, train_records, train_probe, cfg,
                                                 pad_id, device, autocast),
                "valid_loss": evaluate_loss(backbone, adapters, injector, valid_records, valid_encoded, cfg,
                                            pad_id, device, autocast)}

    history.append({"epoch": 0, "step": 0, "train_loss": None, **probe_losses()})
    optimizer = torch.optim.Adam(trainable, lr=cfg["lr"])
    # Linear warm-up over the first steps: Adam's first updates are sign-like (about lr per weight
    # whatever the gradient's size), which at the cpu profile's lr 1e-3 raised the loss of short runs.
    warmup = cfg["warmup_steps"]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda done: min(1.0, (done + 1) / warmup)
                                                  if warmup else 1.0)
    batches = length_grouped_batches(encoded, cfg["batch_size"], seed)
    loader = torch.utils.data.DataLoader(encoded, batch_sampler=batches, collate_fn=lambda b: collate(b, pad_id))
    adapters, optimizer, loader = accelerator.prepare(adapters, optimizer, loader)
    adapters.train()
    step, window, seen, started = 0, [], 0, time.perf_counter()
    best_valid, stopped_epoch = float("inf"), 0
    for epoch in range(1, cfg["epochs"] + 1):
        bar = progress(loader, total=len(loader), desc=f"XRec epoch {epoch}")
        for batch in bar:
            with accelerator.accumulate(adapters):
                lr = optimizer.param_groups[0]["lr"]  # the rate this batch's update uses
                loss = batch_loss(backbone, adapters, injector, train_records, batch, autocast).mean()
                accelerator.backward(loss)
                optimizer.step()
                if accelerator.sync_gradients:  # one warm-up step per real optimizer update
                    scheduler.step()
                optimizer.zero_grad()
            keep_within_budget()
            step += 1
            seen += batch["input_ids"].shape[0]
            window.append(loss.item())
            bar.report(loss=window[-1], lr=lr)
            if step % cfg["log_every"] == 0:
                history.append({"epoch": epoch, "step": step, "train_loss": sum(window) / len(window), "lr": lr})
                window = []
        if window:
            history.append({"epoch": epoch, "step": step, "train_loss": sum(window) / len(window), "lr": lr})
            window = []
        history[-1].update(probe_losses())
        valid = history[-1]["valid_loss"]
        stopped_epoch = epoch
        if valid >= best_valid:  # one epoch without improvement ends training (paper: one epoch at all)
            break
        best_valid = valid
    elapsed = time.perf_counter() - started
    accelerator.wait_for_everyone()
    return {"history": history, "stopped_epoch": stopped_epoch, "steps": step,
            "trainable_parameters": sum(p.numel() for p in trainable),
            "records_per_second": seen * accelerator.num_processes / elapsed, "train_seconds": elapsed,
            "processes": accelerator.num_processes}
