"""One rank of the data-parallel XRec training test (launched by torchrun from test_ddp.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file


def main(out_dir: str, tokenizer_dir: str) -> None:
    from accelerate import PartialState
    from xrec_bench.methods.xrec import XRec, adapter, graph, prompting, training
    from xrec_bench.methods.xrec.injection import CollaborativeInjector

    from tests.xrec.synthetic import make_graph, make_records, tiny_backbone

    torch.set_num_threads(1)
    tiny = tiny_backbone(tokenizer_dir)
    torch.manual_seed(0)
    emb = graph.random_embeddings(make_graph(), 64, 0)
    adapters = training.CollaborativeAdapters(adapter.MoEAdapter(64, 64), adapter.MoEAdapter(64, 64), emb.user, emb.item)
    injector = CollaborativeInjector(tiny.model, tiny.user_token_id, tiny.item_token_id)
    builder = prompting.PromptBuilder("chat-template", "business", True, tiny.tokenizer)
    records = make_records(8, seed=1)
    cfg = {**XRec.defaults["training"], "lr": 1e-2, "epochs": 1, "batch_size": 2, "grad_accum": 1, "log_every": 1,
           "valid_records": 2, "max_target_tokens": 16}
    report = training.train(tiny, adapters, injector, builder, records, records, cfg, seed=0, device="cpu")
    state = PartialState()
    out = Path(out_dir)
    save_file({k: v.contiguous() for k, v in adapters.state_dict().items()}, str(out / f"rank{state.process_index}.safetensors"))
    if state.is_main_process:  # one result, written by rank 0 only
        (out / "result.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
