"""``WordLevelMethod``: fit / explain / save / load for Att2Seq, NRT and PETER.

Each method package subclasses it, names the torch module that builds its model
(``model_module``), and declares its ``defaults`` and ``profiles``. That module defines
``build_model(config, num_users, num_items, num_words) -> nn.Module`` (a model with ``losses``,
``start``, ``step`` and ``full_logits``, see ``training`` and ``decoding``) and
``build_optimizer(model, config) -> (optimizer, on_no_improvement or None)``.

Light at import time: torch is imported inside the methods.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from xrec_bench.hardware import cpu_has_native_bf16
from xrec_bench.methods.wordlevel.ids import IdMap, build_id_maps, unseen_report
from xrec_bench.methods.wordlevel.precision import TRAINING_PRECISIONS
from xrec_bench.methods.wordlevel.sequences import LENGTHS, words_for
from xrec_bench.methods.wordlevel.tokenizer import Vocabulary
from xrec_bench.methods.wordlevel.validation import CRITERIA
from xrec_bench.plugin import Method, RunContext
from xrec_bench.records import DatasetSplits, Record

# Keys every word-level method reads; each method adds its model and optimiser settings.
SHARED_DEFAULTS: dict[str, Any] = {
    "length": "xrec",  # "xrec": 64 words; "official": 15 words (the as-published ablation)
    "vocab_size": 20000,  # most frequent words of the TRAIN split (official: all splits)
    "max_epochs": 100,
    "endure": 5,  # cumulative early-stopping counter
    # "official-batch-weighted" (the official evaluate()) or "token-weighted"; methods.wordlevel.validation
    "valid_criterion": "official-batch-weighted",
    # fp32 | bf16-autocast (the forward passes under bf16 autocast, weights and optimiser in fp32);
    # bf16-weights, which XRec offers for its frozen backbone, does not apply to models trained from scratch.
    "precision": "fp32",
    "decoding": "incremental",  # or "full": the official re-computation at every step (same tokens)
    "generation": {"batch_size": 256},
    "detokenize": "reattach punctuation and clitics, capitalise sentence starts; otherwise lowercase",
}

# Set by every word-level cpu profile besides its own speed settings. The batch-weighted criterion
# depends on the batch size, and the PETER and NRT cpu profiles use smaller batches than the official
# ones, so there it would not be the official number anyway; the token-weighted mean does not depend
# on the batch size. One rule for all three (Att2Seq's cpu batch is the official 50) keeps the cpu
# runs comparable with the committed ones (docs/fidelity.md, "Shared word-level parts").
#
# Precision: bf16 autocast only where the CPU multiplies bf16 in hardware (xrec_bench.hardware), else fp32.
# Epochs: an epoch of 2,400 records takes well under a minute, so training runs until the official
# cumulative early stopping (endure) ends it; the cap only bounds a cell that keeps improving to about
# 10 minutes. The training report's ``stopped_by`` says which rule ended a run.
SHARED_CPU_PROFILE: dict[str, Any] = {"valid_criterion": "token-weighted", "max_epochs": 25,
                                      "precision": "bf16-autocast" if cpu_has_native_bf16() else "fp32"}

STATE_FILE = "model.safetensors"
META_FILE = "wordlevel.json"


class WordLevelMethod(Method):
    model_module = ""
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "length": tuple(LENGTHS), "valid_criterion": CRITERIA, "precision": TRAINING_PRECISIONS,
        "decoding": ("incremental", "full"),
    }

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self.model = None
        self.vocab: Vocabulary | None = None
        self.users: IdMap | None = None
        self.items: IdMap | None = None

    def _build(self, device: Any):
        module = importlib.import_module(self.model_module)
        return module, module.build_model(self.config, self.users.num_rows, self.items.num_rows,
                                          len(self.vocab)).to(device)

    def fit(self, splits: DatasetSplits, ctx: RunContext) -> dict[str, Any]:
        import torch
        from xrec_bench.methods.wordlevel.sequences import encode_split
        from xrec_bench.methods.wordlevel.training import train_word_model
        from xrec_bench.seeding import seed_everything

        seed_everything(ctx.seed)  # again: the runner seeded before torch was imported
        device = torch.device(ctx.device)
        words = words_for(self.config["length"])
        self.vocab = Vocabulary.build((r.explanation or "" for r in splits.train), self.config["vocab_size"])
        self.users, self.items = build_id_maps(splits)
        train, valid = (encode_split(records, self.vocab, self.users, self.items, words)
                        for records in (splits.train, splits.valid))
        module, self.model = self._build(device)
        optimizer, on_no_improvement = module.build_optimizer(self.model, self.config)
        report = train_word_model(
            self.model, optimizer, train, valid, batch_size=self.config["training"]["batch_size"],
            max_epochs=self.config["max_epochs"], endure=self.config["endure"],
            clip_norm=self.config.get("clip_norm"), seed=ctx.seed, device=device, progress=ctx.progress,
            on_no_improvement=on_no_improvement, precision=self.config["precision"],
            valid_criterion=self.config["valid_criterion"])
        report.update({
            "words": words,
            "vocabulary_size": len(self.vocab),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "unseen_ids": unseen_report(splits.train, splits.test),
        })
        return report

    @property
    def explain_batch_size(self) -> int:
        """The runner hands ``explain`` whole batches of this size (every prompt has the same length)."""
        return int(self.config["generation"]["batch_size"])

    def explain(self, records: Sequence[Record], ctx: RunContext) -> list[str]:
        import torch
        from xrec_bench.methods.wordlevel.decoding import greedy_full, greedy_incremental

        if self.model is None:
            raise RuntimeError(f"{self.name}: explain() before fit() or load()")
        device = torch.device(ctx.device)
        self.model.to(device).eval()
        decode = greedy_full if self.config["decoding"] == "full" else greedy_incremental
        words = words_for(self.config["length"])
        size = self.config["generation"]["batch_size"]
        explanations: list[str] = []
        for start in range(0, len(records), size):
            chunk = records[start:start + size]
            users = torch.tensor([self.users(r.uid) for r in chunk], dtype=torch.long, device=device)
            items = torch.tensor([self.items(r.iid) for r in chunk], dtype=torch.long, device=device)
            explanations += [self.vocab.decode(ids) for ids in decode(self.model, users, items, words)]
        return explanations

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(directory / STATE_FILE))
        meta = {"format": 1, "method": self.name, "config": self.config, "vocabulary": self.vocab.words,
                "users": self.users.raw_ids, "items": self.items.raw_ids}
        (directory / META_FILE).write_text(json.dumps(meta), encoding="utf-8")

    def load(self, directory: Path, ctx: RunContext) -> None:
        from safetensors.torch import load_file

        directory = Path(directory)
        meta = json.loads((directory / META_FILE).read_text(encoding="utf-8"))
        # The saved config fixes the model; how to decode stays the caller's choice.
        runtime = {k: self.config[k] for k in ("decoding", "generation") if k in self.config}
        self.config = {**meta["config"], **runtime}
        self.vocab = Vocabulary(meta["vocabulary"])
        self.users, self.items = IdMap(meta["users"]), IdMap(meta["items"])
        _, self.model = self._build(ctx.device)
        self.model.load_state_dict(load_file(str(directory / STATE_FILE)))
