"""PEPLER (Li, Zhang and Chen, TOIS'23), continuous-prompt variant, reimplemented from lileipisces/PEPLER.

Each component is compared with the official main.py / module.py / utils.py in docs/fidelity.md,
section PEPLER.

One learned user vector and one learned item vector (of the backbone's hidden size) go in front of
``<bos> explanation <eos>`` into a pretrained causal LM. Training is two-stage "sequential tuning":
stage 1 tunes the prompts, stage 2 everything, each with a fresh AdamW and the official cumulative
early stopping. Decoding is greedy with a KV cache (the official code re-runs the whole prefix at
every step; ``use_kv_cache: false`` does that, and a test pins that both give the same tokens).

Config (``method.*``; the ``paper`` profile is the official setting, ``cpu`` the offline one):

- ``backbone``: ``gpt2`` (paper) or ``smollm2-135m-instruct`` (cpu), or any local transformers dir.
- ``length``: ``official`` keeps 20 BPE tokens of each explanation, ``xrec`` (default) 96, which
  covers every yelp reference (p99 69, max 96 SmolLM2 tokens). Generation stops at ``<eos>`` or
  this many tokens (+1 for ``<eos>``).
- ``stage1_train_token_embeddings``: the ``resize_token_embeddings`` trap (transformers#26861). In
  the official environment (transformers 4.18) resizing re-enabled gradients on the token
  embeddings after the freeze, so stage 1 trained the prompts **and** the token-embedding matrix
  (tied to the LM head). ``true`` (default, both profiles) reproduces that run; ``false`` is the
  paper's stated design (prompts only; the three new special-token rows stay at their random
  initialisation through stage 1).
  Either way, each stage keeps its own best epoch (a fresh best and counter per stage, as
  officially), so the model stage 2 ends with can have a higher validation loss than stage 1's best;
  the report gives ``initial_valid_loss``, each stage's ``best_valid_loss`` and ``final_valid_loss``.
  As officially, the item position is trained to predict ``<bos>`` (HF shifts the labels).
- ``stage1`` / ``stage2``: ``max_epochs`` and ``lr`` (official: up to 100 epochs, lr 1e-3 both).
- ``valid_criterion``: ``official-batch-weighted`` (paper; the official evaluate() weights each
  batch's token-mean loss by its number of records) or ``token-weighted`` (cpu; the mean over every
  target token of the split). The cpu profile's batches are 32 records grouped by length, so a
  batch-weighted mean would weight short and long explanations differently from the official
  128-record batches in file order; the token-weighted mean depends on neither.
- ``training.batch_size`` (official 128); ``training.micro_batch_size`` and
  ``training.micro_batch_positions``: at most so many rows, and so many padded text positions
  (rows x the slice's longest row), per forward/backward pass inside a batch, gradients accumulated
  to the whole batch's (null: no limit; both null: the whole batch in one pass),
  ``endure`` (5), ``adam_eps`` (1e-6), ``weight_decay`` (0), ``prompt_init_range`` (0.1),
  ``precision`` (``fp32`` or ``bf16-autocast``), ``group_by_length``, ``generation.batch_size``,
  ``use_kv_cache``.
- ``attention``: ``eager`` (default, both profiles) computes attention as the official environment
  did (transformers 4.18's GPT-2 had no other kernel); ``sdpa`` is torch's fused kernel, the one
  transformers picks today. On SmolLM2 under bf16 autocast, eager was 1.16x faster per training
  batch on the 2-core AMX CPU, and its gradients closer to fp32's (cosine 0.81 against 0.38 for
  sdpa, whose bf16 kernel differs most in the lowest layers and the prompts).

Deviations of the ``cpu`` profile from ``paper`` (so that a mini dataset's ~2,400 training records
train on two CPU cores in under 30 minutes): SmolLM2-135M-Instruct instead of GPT-2 small (GPT-2 is
not available offline); bf16 autocast (about 2x faster on an AMX CPU than fp32); at most 2 stage-1
and 3 stage-2 epochs (the early-stopping counter still runs, but rarely reaches 5); batch 32
instead of 128 (more updates on a small split); batches grouped by length (less padding; pads carry
no label, so the loss is the same). Both profiles: batches are padded to their own longest row
(the official code pads to the split's), every epoch is shuffled with the run seed (the official
first epoch is in file order, unseeded), the user/item tables have a row for every id of every
split, as officially (test-only ids keep their random rows; the report's ``unseen`` says how many),
and the explanation is encoded without the leading space the official ``"<bos> " + text`` gives its
first word. Memory: the loss projects only the positions that have a label onto the 49k-entry
vocabulary, and the cpu profile computes each batch of 32 in slices of at most 256 padded positions
(``training.micro_batch_positions``: 8 rows of a short batch, 2 of the longest), so only one
slice's activations and logits are alive, and about as many in a long batch as in a short one; each
stage's best state is kept on disk in the run's scratch directory, not in memory.

Not applicable on the XRec data: PEPLER-MF / PEPLER-MLP (the official reg.py) need star ratings, and
PEPLER-D (discrete.py) needs per-record feature words; XRec's data has neither, so neither variant
is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from xrec_bench.hardware import cpu_has_native_bf16
from xrec_bench.methods.wordlevel.precision import TRAINING_PRECISIONS
from xrec_bench.methods.wordlevel.validation import CRITERIA
from xrec_bench.plugin import Method, RunContext
from xrec_bench.records import DatasetSplits, Record
from xrec_bench.registry import methods

# The two length settings (config key ``length``): BPE tokens kept per explanation.
LENGTH_SETTINGS = {"official": 20, "xrec": 96}
# Attention kernels (config key ``attention``), as transformers names them.
ATTENTION_KERNELS = ("eager", "sdpa")


@methods.register("pepler", summary="PEPLER: continuous user/item prompts + a pretrained LM, two-stage tuning")
class Pepler(Method):
    version = "1"
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "length": tuple(LENGTH_SETTINGS), "valid_criterion": CRITERIA, "precision": TRAINING_PRECISIONS,
        "attention": ATTENTION_KERNELS,
    }
    defaults: ClassVar[dict[str, Any]] = {
        "backbone": "gpt2",
        "length": "xrec",
        # batch_size: records per optimiser step (official 128); micro_batch_size and micro_batch_positions:
        # at most so many rows, and so many padded text positions (rows x longest row), per forward and
        # backward pass within it (null: no limit), gradients accumulated to the batch's.
        "training": {"batch_size": 128, "micro_batch_size": None, "micro_batch_positions": None},
        "endure": 5,
        "valid_criterion": "official-batch-weighted",
        "stage1": {"max_epochs": 100, "lr": 1e-3},
        "stage2": {"max_epochs": 100, "lr": 1e-3},
        "adam_eps": 1e-6,
        "weight_decay": 0.0,
        "stage1_train_token_embeddings": True,
        "prompt_init_range": 0.1,
        "precision": "fp32",  # fp32 | bf16-autocast (xrec_bench.methods.wordlevel.precision)
        # eager: the official environment's attention (transformers 4.18 had no sdpa); sdpa: torch's kernel.
        "attention": "eager",
        "group_by_length": False,
        "generation": {"batch_size": 64},
        "use_kv_cache": True,
    }
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {},
        "cpu": {
            "backbone": "smollm2-135m-instruct",
            "precision": "bf16-autocast" if cpu_has_native_bf16() else "fp32",  # hardware bf16 only
            # Slices of at most 256 padded positions keep one slice's activations and logits alive
            # instead of the batch's: whole batches of 32 peaked at 10.8 GB (docs/fidelity.md, PEPLER),
            # and slices of 8 rows still held up to 8 x 97 positions at a time in the longest batches.
            "training": {"batch_size": 32, "micro_batch_size": None, "micro_batch_positions": 256},
            "group_by_length": True,
            "valid_criterion": "token-weighted",
            "stage1": {"max_epochs": 2},
            "stage2": {"max_epochs": 3},
        },
    }

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self.model = None
        self.tokenizer = None
        self.meta: dict[str, Any] = {}

    def fit(self, splits: DatasetSplits, ctx: RunContext) -> dict[str, Any]:
        import torch
        from xrec_bench.methods.pepler.model import PromptedLM, load_backbone
        from xrec_bench.methods.pepler.training import train_two_stages
        from xrec_bench.methods.wordlevel.ids import build_id_maps, unseen_report

        torch.manual_seed(ctx.seed)
        backbone, self.tokenizer = load_backbone(self.config["backbone"], self.config["attention"])
        user_map, item_map = build_id_maps(splits)
        self.model = PromptedLM(backbone, user_map.num_rows, item_map.num_rows, self.config["prompt_init_range"])
        report = train_two_stages(self.model, self.tokenizer, splits, user_map, item_map, self.config, ctx)
        report["unseen"] = unseen_report(splits.train, splits.test)
        self.meta = {"user_ids": user_map.raw_ids, "item_ids": item_map.raw_ids,
                     "max_tokens": report["max_tokens"], "config": self.config}
        return report

    @property
    def explain_batch_size(self) -> int:
        """The runner hands ``explain`` whole batches of this size (every prompt is ``[u, i, <bos>]``)."""
        return int(self.config["generation"]["batch_size"])

    def explain(self, records: Sequence[Record], ctx: RunContext) -> list[str]:
        import torch
        from xrec_bench.methods.pepler.encoding import decode_generated
        from xrec_bench.methods.pepler.generation import autocast, greedy_generate
        from xrec_bench.methods.wordlevel.ids import IdMap

        if self.model is None:
            raise RuntimeError("PEPLER.explain called before fit or load")
        user_map, item_map = IdMap(self.meta["user_ids"]), IdMap(self.meta["item_ids"])
        self.model.to(ctx.device).eval()
        size = self.config["generation"]["batch_size"]
        texts: list[str] = []
        for start in range(0, len(records), size):
            chunk = records[start:start + size]
            users = torch.tensor([user_map(r.uid) for r in chunk], device=ctx.device)
            items = torch.tensor([item_map(r.iid) for r in chunk], device=ctx.device)
            with autocast(ctx.device, self.config["precision"] != "fp32"):
                generated = greedy_generate(self.model, users, items, self.tokenizer.bos_token_id,
                                            self.tokenizer.eos_token_id, self.meta["max_tokens"] + 1,
                                            use_cache=self.config["use_kv_cache"])
            texts.extend(decode_generated(self.tokenizer, generated))
        return texts

    def save(self, directory: Path) -> None:
        from xrec_bench.methods.pepler.model import save_model

        save_model(self.model, self.tokenizer, Path(directory), self.meta)

    def load(self, directory: Path, ctx: RunContext) -> None:
        from xrec_bench.methods.pepler.model import load_model

        self.model, self.tokenizer, self.meta = load_model(Path(directory))
