"""XRec (Ma et al., EMNLP Findings 2024), reimplemented: LightGCN graph tokenizer, MoE adapters,
all-layer injection into a frozen LLM, instruction tuning of the adapters only.

This module stays light (the registry imports it to list plugins); torch and transformers are
imported by the submodules that ``fit`` / ``explain`` / ``load`` pull in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from xrec_bench.errors import UserError
from xrec_bench.hardware import cpu_has_native_bf16
from xrec_bench.plugin import Method, RunContext
from xrec_bench.records import DatasetSplits, Record
from xrec_bench.registry import methods
from xrec_bench.stages import release_free_memory

# XRec's encoder/ settings and training protocol (LIGHTGCN_PROTOCOL names the choices).
LIGHTGCN_PAPER = {"embedding_dim": 64, "num_layers": 4, "lr": 1e-3, "batch_size": 1024, "weight_decay": 1e-6,
                  "max_epochs": 300, "patience": 10, "eval_k": 20, "init": "two-tables",
                  "regularization": "propagated-sum", "negatives": "fixed", "validation": "per-interaction"}

# The LightGCN training protocol's named choices (methods/xrec/graph.py); the first of each is what
# XRec's encoder/ code does.
LIGHTGCN_PROTOCOL = {
    # two Xavier-uniform tables, users and items apart (encoder/models/lightgcn.py) | one table over all nodes
    "init": ("two-tables", "one-table"),
    # weight_decay x summed squared norms of the batch's PROPAGATED embeddings (cal_loss) | layer-0
    # embeddings' squared norms / (2 x batch size), the usual LightGCN recipe
    "regularization": ("propagated-sum", "layer0-mean"),
    # one negative per training interaction, drawn once at load time from the training items and reused
    # every epoch (utils/data_handler.py) | drawn afresh for every batch from all items
    "negatives": ("fixed", "per-batch"),
    # early-stopping Recall@k averaged over validation interactions, training items not masked
    # (utils/metrics.py) | averaged over validation users, training items masked
    "validation": ("per-interaction", "per-user-masked"),
}

CPU_BF16 = cpu_has_native_bf16()

# method.precision: "fp32"; "bf16-autocast" (fp32 weights, bf16 autocast in training and generation);
# "bf16-weights" (the frozen backbone's weights in bf16 as well, under the same autocast: frozen weights
# are not in autocast's cast cache, so fp32 weights would be cast again on every forward).
PRECISIONS = ("fp32", "bf16-autocast", "bf16-weights")

# method.injection (methods/xrec/injection.py) and method.training.loss_start (methods/xrec/training.py).
INJECTIONS = ("all-layers", "input-only", "none")
LOSS_STARTS = ("explain-token", "target")


@methods.register("xrec", summary="XRec: LightGCN graph tokens + MoE adapters injected into a frozen LLM")
class XRec(Method):
    version = "1"
    choices: ClassVar[dict[str, tuple[Any, ...]]] = {
        "precision": PRECISIONS, "injection": INJECTIONS, "adapter": ("moe", "linear"),
        "graph_embeddings": ("lightgcn", "random", "official"), "prompt_format": ("official", "chat-template"),
        "new_token_init": ("mean", "normal"), "training.loss_start": LOSS_STARTS,
        **{f"lightgcn.{key}": allowed for key, allowed in LIGHTGCN_PROTOCOL.items()},
    }
    defaults: ClassVar[dict[str, Any]] = {
        "backbone": "smollm2-135m-instruct",
        "load_in_8bit": False,  # used only where bitsandbytes and a GPU exist
        "precision": "fp32",  # fp32 | bf16-autocast | bf16-weights (see PRECISIONS)
        "prompt_format": "chat-template",
        "add_bos": False,  # also let the tokenizer add its BOS (XRec's code does, after its own "<s>")
        # Rows of the added tokens: "mean" of the existing rows, or "normal" N(0, initializer_range) from
        # a generator seeded with 0 (what transformers' resize_token_embeddings did in XRec's version).
        "new_token_init": "mean",
        "item_word": None,  # null: the dataset's own word ("book" for Amazon, "business" for Yelp, Google)
        # Ablations (each appears in the run id through the config hash):
        "profiles_in_prompt": True,
        "injection": "all-layers",  # all-layers | input-only | none
        "adapter": "moe",  # moe | linear
        "graph_embeddings": "lightgcn",  # lightgcn | random | official
        "official_dir": None,  # a directory with user_emb.pkl / item_emb.pkl and/or *_converter.pkl
        "official_adapters": False,  # load user_converter.pkl / item_converter.pkl from official_dir
        "num_experts": 8,
        "adapter_dropout": 0.2,
        "lightgcn": dict(LIGHTGCN_PAPER),
        "training": {"lr": 1e-4, "epochs": 1, "batch_size": 1, "grad_accum": 1,
                     "log_every": 50, "valid_records": 64, "max_target_tokens": 128, "warmup_steps": 0,
                     # "target": the loss covers the tokens after the prompt; "explain-token": also the
                     # prediction of <EXPLAIN_POS> itself (XRec's Explainer.loss masks before the shift).
                     "loss_start": "target",
                     "attention": None},  # null: as loaded (transformers' default, sdpa); or eager | sdpa
        # Decoding stops at the backbone's end-of-turn token(s); sampling is seeded per record.
        "generation": {"max_new_tokens": 128, "batch_size": 16, "do_sample": False, "temperature": 0.6,
                       "top_k": 0, "top_p": 0.9, "repetition_penalty": 1.0, "use_cache": True,
                       "suppress_xrec_tokens": True,  # never generate <USER_EMBED>/<ITEM_EMBED>/<EXPLAIN_POS>
                       "strip_instruction_echo": True,  # drop a leading copy of the system instruction
                       "attention": None},
        "lora": {"enabled": False, "r": 8, "alpha": 16, "dropout": 0.05, "target_modules": ["q_proj", "v_proj"]},
    }
    profiles: ClassVar[dict[str, dict[str, Any]]] = {
        # XRec's released code (explainer/): LLaMA-2-7B-chat in 8-bit, its chat text tokenised with a second
        # BOS, transformers' normal init of the added rows, the loss from <EXPLAIN_POS> on, Adam 1e-4 at
        # batch 1 for one epoch, and generate() under LLaMA-2-chat's generation config (sampling at
        # temperature 0.6, top-p 0.9 and transformers' default top-k 50), stopping at </s>.
        "paper": {"backbone": "meta-llama/Llama-2-7b-chat-hf", "load_in_8bit": True, "prompt_format": "official",
                  "add_bos": True, "new_token_init": "normal",
                  "precision": "fp32",
                  "training": {"lr": 1e-4, "epochs": 1, "batch_size": 1, "grad_accum": 1,
                               "loss_start": "explain-token"},
                  "generation": {"batch_size": 16, "do_sample": True, "temperature": 0.6, "top_k": 50,
                                 "top_p": 0.9, "repetition_penalty": 1.0, "suppress_xrec_tokens": False,
                                 "strip_instruction_echo": False}},
        # bf16 only where the CPU has hardware bf16 (benchmark/hardware.py); fp32 elsewhere.
        "cpu": {"backbone": "smollm2-135m-instruct", "prompt_format": "chat-template",
                "precision": "bf16-weights" if CPU_BF16 else "fp32",
                # LightGCN: large batches and 20 epochs to finish in about a minute, with the usual
                # LightGCN protocol (one Xavier table, layer-0 L2 per batch record, fresh negatives per
                # batch, early stopping on per-user Recall@20 with training items masked).
                "lightgcn": {"batch_size": 8192, "max_epochs": 20, "init": "one-table",
                             "regularization": "layer0-mean", "negatives": "per-batch",
                             "validation": "per-user-masked"},
                # lr 1e-3 learns fastest over the full mini split (valid loss after 50 steps: 3.191 at 1e-3,
                # 3.212 at 3e-4, 3.215 at 1e-4); the warm-up keeps short runs from overshooting.
                # Attention per phase, measured on the 2-core AMX CPU: torch's flash-attention kernel took
                # 40% of batched bf16 decoding (one query row per step), and eager decoding ran batch 16
                # at 136 vs 111 tokens/s. In a 20-step training check: sdpa 4.16 records/s, 2.93 GB peak;
                # eager 5.29 records/s, 3.51 GB (it keeps the S x S probabilities twice for backward);
                # eager_low_memory (methods/xrec/attention.py) 5.53 records/s, 3.01 GB. On a 2-core avx512_bf16
                # CPU (2026-12-02), eager_grouped decoded batch 16 with outputs identical to eager's on 32 of 32
                # records, without eager's per-step copy of the whole KV cache (tests/xrec/test_perf.py).
                "training": {"lr": 1e-3, "batch_size": 8, "log_every": 4, "valid_records": 48,
                             "warmup_steps": 25, "attention": "eager_low_memory"},
                # Greedy decoding of the 135M backbone falls into copying the system instruction after
                # adapter training ("The user would enjoy the business within 50 words.": 113 of 300
                # outputs of the full yelp-mini run at 1.0); a mild repetition penalty stops it (10/64
                # echoes at 1.0, 0/64 at 1.1, same checkpoint). The paper profile keeps 1.0.
                "generation": {"batch_size": 16, "repetition_penalty": 1.1, "attention": "eager_grouped"}},
    }

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self._state: dict[str, Any] | None = None

    def _cfg(self, key: str) -> Any:
        value = self.config.get(key, self.defaults[key])
        if isinstance(self.defaults[key], dict):
            return {**self.defaults[key], **(value or {})}
        return value

    @property
    def _weight_dtype(self) -> str:
        """The frozen backbone's weight dtype under ``method.precision``."""
        return "bfloat16" if self._cfg("precision") == "bf16-weights" else "float32"

    @property
    def _autocast(self) -> bool:
        """Whether training and generation run under bf16 autocast (both bf16 precisions do)."""
        return self._cfg("precision") != "fp32"

    # -- building -----------------------------------------------------------------------------
    def _build(self, item_word: str, device: str, embeddings) -> None:
        """Backbone, prompt builder, adapters and hooks for a dataset whose items are called ``item_word``
        (shared by fit and load)."""
        from xrec_bench.methods.xrec import adapter, backbone, injection, prompting, training

        model = backbone.load_backbone(self._cfg("backbone"), device, self._cfg("load_in_8bit"), self._weight_dtype,
                                       self._cfg("new_token_init"))
        if self._cfg("lora")["enabled"]:
            backbone.add_lora(model, self._cfg("lora"))
        word = self._cfg("item_word") or item_word
        builder = prompting.PromptBuilder(self._cfg("prompt_format"), word, self._cfg("profiles_in_prompt"),
                                          model.tokenizer, self._cfg("add_bos"),
                                          self._cfg("generation")["strip_instruction_echo"])
        dim = embeddings.user.shape[1]
        make = [adapter.build_adapter(self._cfg("adapter"), dim, model.hidden_size, self._cfg("num_experts"),
                                      self._cfg("adapter_dropout")) for _ in range(2)]
        adapters = training.CollaborativeAdapters(*make, embeddings.user.float(), embeddings.item.float()).to(device)
        if self._cfg("injection") == "none":
            adapters.requires_grad_(False)  # no collaborative signal reaches the model: nothing to learn
        hooks = injection.CollaborativeInjector(model.model, model.user_token_id, model.item_token_id,
                                                self._cfg("injection"))
        self._state = {"backbone": model, "builder": builder, "adapters": adapters, "injector": hooks,
                       "embeddings": embeddings, "item_word": item_word, "device": device}

    def _graph_embeddings(self, splits: DatasetSplits, ctx: RunContext):
        from xrec_bench.methods.xrec import graph

        source = self._cfg("graph_embeddings")
        if splits.graph is None and source != "official":
            raise UserError(f"Dataset {splits.name} has no interaction graph; XRec needs one "
                            f"(or --set method.graph_embeddings=official with method.official_dir).")
        if source == "official":
            return graph.official_embeddings(self._official_dir())
        if source == "random":
            return graph.random_embeddings(splits.graph, self._cfg("lightgcn")["embedding_dim"], ctx.seed)
        return graph.load_or_train(splits.graph, self._cfg("lightgcn"), Path(ctx.cache_dir), ctx.seed,
                                   ctx.progress)

    def _official_dir(self) -> Path:
        directory = self._cfg("official_dir")
        if not directory or not Path(directory).is_dir():
            raise UserError(f"method.official_dir={directory!r} is not a directory; point it at the folder "
                            f"holding the released XRec files (user_emb.pkl, item_emb.pkl, *_converter.pkl).")
        return Path(directory)

    # -- the Method contract --------------------------------------------------------------------
    def fit(self, splits: DatasetSplits, ctx: RunContext) -> dict[str, Any]:
        import torch
        from xrec_bench.methods.xrec import checkpoint, training

        embeddings = self._graph_embeddings(splits, ctx)
        release_free_memory()  # what LightGCN training freed, before the backbone's activations arrive
        # Seeded after the graph tokenizer: training LightGCN draws from the global generator and loading it
        # from the cache does not, so seeding earlier made a config's first run differ from its reruns.
        torch.manual_seed(ctx.seed)
        self._build(splits.item_word, ctx.device, embeddings)
        state = self._state
        report: dict[str, Any] = {"graph_tokenizer": {k: v for k, v in embeddings.report.items() if k != "history"},
                                  "prompt_format": self._cfg("prompt_format")}
        if "history" in embeddings.report:
            report["graph_tokenizer"]["history"] = embeddings.report["history"]
        if self._cfg("official_adapters"):
            checkpoint.load_official_adapters(state["adapters"], self._official_dir())
            return {**report, "history": [], "stopped_epoch": 0, "adapters": "official"}
        trained = training.train(state["backbone"], state["adapters"], state["injector"], state["builder"],
                                 splits.train, splits.valid, self._cfg("training"), ctx.seed, ctx.device,
                                 ctx.progress, autocast=self._autocast)
        return {**report, **trained}

    @property
    def explain_batch_size(self) -> int:
        return int(self._cfg("generation")["batch_size"])

    def batch_key(self, record: Record) -> int:
        """The prompt's token count: the runner sorts by it, and generation's own stable sort by the same
        length keeps the runner's batches (left padding stays short, and no batch depends on chunking)."""
        if self._state is None:
            raise RuntimeError("XRec.batch_key called before fit or load")
        builder = self._state["builder"]
        return len(builder.prompt_ids(builder.inference_prompt(record)))

    def explain(self, records: Sequence[Record], ctx: RunContext) -> list[str]:
        from xrec_bench.methods.xrec import generation

        if self._state is None:
            raise RuntimeError("XRec.explain called before fit or load")
        s = self._state
        return generation.explain(s["backbone"], s["injector"], s["adapters"], s["builder"], records,
                                  self._cfg("generation"), ctx.seed, s["device"], ctx.progress,
                                  autocast=self._autocast)

    def save(self, directory: Path) -> None:
        from xrec_bench.methods.xrec import checkpoint

        checkpoint.save(self._state, Path(directory), self.config)

    def load(self, directory: Path, ctx: RunContext) -> None:
        from xrec_bench.methods.xrec import checkpoint

        saved = json.loads((Path(directory) / "xrec.json").read_text(encoding="utf-8"))
        embeddings = checkpoint.load_embeddings(Path(directory))
        if "item_word" not in saved:
            raise UserError(f"{directory} holds an XRec model saved by an older xrec-bench (no item_word); "
                            f"rerun the cell with --overwrite to train it again.")
        self._build(saved["item_word"], ctx.device, embeddings)
        checkpoint.load_weights(self._state, Path(directory))
