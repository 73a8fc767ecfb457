"""Decoding: stop at the end of the turn, a pad of its own, the penalty spares end-of-turn, per-record
sampling, the official training text and the loss that starts at <EXPLAIN_POS>."""

from __future__ import annotations

import pytest
import torch
from xrec_bench.methods.xrec import XRec, adapter, generation, graph, prompting, training
from xrec_bench.methods.xrec.injection import CollaborativeInjector

from tests.xrec.reference_generate import transformers_generate
from tests.xrec.synthetic import make_graph, make_records

IM_START, IM_END = 1, 2  # SmolLM2's chat tokens


def parts(tiny):
    emb = graph.random_embeddings(make_graph(), 64, 0)
    make = [adapter.build_adapter("moe", 64, tiny.hidden_size, 8, 0.0) for _ in range(2)]
    adapters = training.CollaborativeAdapters(*make, emb.user, emb.item)
    injector = CollaborativeInjector(tiny.model, tiny.user_token_id, tiny.item_token_id)
    builder = prompting.PromptBuilder("chat-template", "business", True, tiny.tokenizer)
    return adapters, injector, builder


def generation_cfg(**overrides):
    return {**XRec.defaults["generation"], **XRec.profiles["cpu"]["generation"],
            "max_new_tokens": 12, "batch_size": 3, **overrides}


def test_pad_has_its_own_id_and_the_turn_ends_at_im_end(tiny):
    tokenizer = tiny.tokenizer
    assert tokenizer.pad_token == "<pad>"
    assert tokenizer.pad_token_id not in {IM_START, IM_END, tokenizer.bos_token_id, tokenizer.eos_token_id}
    # The converted tokenizer's eos is <|im_start|>; the turn really ends with <|im_end|>.
    assert tiny.end_of_turn_ids(chat_template=True) == [IM_END]
    assert IM_START not in tiny.end_of_turn_ids(chat_template=True)


def test_decoding_stops_at_the_end_of_turn_and_says_so(tiny):
    """A model that says <|im_end|> from its third new token on: the output ends there, stop = eos."""
    adapters, injector, builder = parts(tiny)
    calls = []

    def end_turn_soon(module, inputs, output):
        calls.append(1)
        if len(calls) >= 3:  # the prompt pass and two decoding steps, then <|im_end|>
            output[..., IM_END] += 1e4
        return output

    records = [r.without_reference() for r in make_records(3, seed=1)]
    handle = tiny.model.get_output_embeddings().register_forward_hook(end_turn_soon)
    try:
        out = generation.explain(tiny, injector, adapters, builder, records, generation_cfg(), 0, "cpu")
    finally:
        handle.remove()
        injector.remove()
    assert [o.decoding for o in out] == [{"new_tokens": 3, "stop": "eos"}] * 3
    assert all(isinstance(o, str) for o in out)


def test_a_row_without_end_of_turn_reports_the_cap():
    assert generation.decoding_record([5, 6, 7], [IM_END], 3) == {"new_tokens": 3, "stop": "max_new_tokens"}
    assert generation.decoding_record([5, IM_END, 0, 0], [IM_END], 4) == {"new_tokens": 2, "stop": "eos"}


def test_repetition_penalty_spares_the_end_of_turn_token():
    processor = generation.SparingRepetitionPenalty(2.0, [IM_END])
    scores = torch.tensor([[1.0, 4.0, 4.0, 4.0]])
    out = processor(torch.tensor([[IM_END, 3]]), scores.clone())
    assert out[0, IM_END] == 4.0  # in the prompt, but not penalised
    assert out[0, 3] == 2.0  # penalised as transformers does
    assert out[0, 1] == 4.0  # not in the prompt


def test_sampling_draws_per_record_whatever_the_batch(tiny):
    adapters, injector, builder = parts(tiny)
    records = [r.without_reference() for r in make_records(5, seed=2)]
    sampled = generation_cfg(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0)
    try:
        together = generation.explain(tiny, injector, adapters, builder, records, {**sampled, "batch_size": 5}, 7,
                                      "cpu")
        alone = generation.explain(tiny, injector, adapters, builder, records, {**sampled, "batch_size": 1}, 7,
                                   "cpu")
        reversed_order = generation.explain(tiny, injector, adapters, builder, records[::-1],
                                            {**sampled, "batch_size": 2}, 7, "cpu")
        other_seed = generation.explain(tiny, injector, adapters, builder, records, {**sampled, "batch_size": 5}, 8,
                                        "cpu")
    finally:
        injector.remove()
    assert together == alone == reversed_order[::-1]
    assert together != other_seed


def test_paper_profile_samples_as_llama2_chat_generation_config():
    from xrec_bench.config import resolve

    paper = resolve(method="xrec", dataset="yelp-mini", profile="paper", metric_names=["usr"])["method"]
    decoding = paper["generation"]
    assert decoding["do_sample"] is True and decoding["temperature"] == 0.6 and decoding["top_p"] == 0.9
    assert decoding["top_k"] == 50 and decoding["repetition_penalty"] == 1.0
    assert paper["training"]["loss_start"] == "explain-token" and paper["add_bos"] is True
    cpu = resolve(method="xrec", dataset="yelp-mini", metric_names=["usr"])["method"]
    assert cpu["generation"]["do_sample"] is False and cpu["training"]["loss_start"] == "target"


def test_official_training_text_closes_the_instruction_without_a_space():
    record = make_records(1)[0]
    _, target = prompting.PromptBuilder("official", "business", True).training_pair(record)
    assert target == f" {record.explanation}[/INST]"


@pytest.mark.parametrize("fmt", ["official", "chat-template"])
def test_the_explain_token_start_trains_the_prediction_of_explain_pos(tiny, fmt):
    builder = prompting.PromptBuilder(fmt, "business", True, tiny.tokenizer)
    records = make_records(2, seed=4)
    target_only = training.encode(records, builder, tiny.explain_token_id, 64, "target")
    official = training.encode(records, builder, tiny.explain_token_id, 64, "explain-token")
    batch = training.collate(official, tiny.tokenizer.pad_token_id)
    for row, (short, full) in enumerate(zip(target_only, official)):
        assert short.ids == full.ids
        assert full.ids[full.target_start] == tiny.explain_token_id
        labels = batch["labels"][row]
        first = int((labels != training.IGNORE).nonzero()[0])
        assert labels[first] == tiny.explain_token_id  # predicted from the token before it
        assert full.target_start < short.target_start


def test_add_bos_lets_the_tokenizer_add_its_bos(tiny):
    record = make_records(1)[0]
    official = prompting.PromptBuilder("official", "business", True, tiny.tokenizer, add_bos=True)
    ids = official.prompt_ids(official.inference_prompt(record))
    bos = tiny.tokenizer.bos_token_id
    assert ids[0] == bos
    plain = prompting.PromptBuilder("official", "business", True, tiny.tokenizer)
    assert len(ids) == len(plain.prompt_ids(plain.inference_prompt(record))) + 1


def test_added_rows_mean_or_seeded_normal(tokenizer_dir):
    from tests.xrec.synthetic import tiny_backbone

    mean = tiny_backbone(tokenizer_dir).model.get_input_embeddings().weight[-4:]
    assert torch.allclose(mean, mean[0].expand_as(mean))  # "mean": one row for every new token
    first, second = (tiny_backbone(tokenizer_dir, new_token_init="normal").model.get_input_embeddings().weight[-4:]
                     for _ in range(2))
    torch.testing.assert_close(first, second)  # seeded: a saved run needs no copy of the backbone
    assert not torch.allclose(first[0], first[1]) and 0.01 < float(first.std()) < 0.04


@pytest.mark.parametrize("static_cache", [True, False])
def test_greedy_batches_equal_one_at_a_time_and_transformers_generate(tiny, static_cache):
    """The decoding loop (static or growing cache, finished rows dropped) gives transformers' greedy
    tokens, and a batch of prompts of different lengths gives each row what it gives alone."""
    injector = CollaborativeInjector(tiny.model, tiny.user_token_id, tiny.item_token_id)
    builder = prompting.PromptBuilder("chat-template", "business", True, tiny.tokenizer)
    rows = [builder.prompt_ids(builder.inference_prompt(r.without_reference())) for r in make_records(5, seed=3)]
    assert len({len(r) for r in rows}) > 1  # left padding is exercised
    torch.manual_seed(5)
    user, item = 3 * torch.randn(5, 64), 3 * torch.randn(5, 64)
    cfg = generation_cfg(max_new_tokens=10, repetition_penalty=1.3)
    # Stop ids that this random model emits: rows end at different steps and leave the batch.
    free = generation.generate_ids(tiny, injector, rows, user, item, cfg, [IM_END], [0] * 5)
    stop = [IM_END, free[0][2], free[3][5]]
    try:
        batched = generation.generate_ids(tiny, injector, rows, user, item, cfg, stop, [0] * 5,
                                          static_cache=static_cache)
        alone = [generation.generate_ids(tiny, injector, [row], user[i:i + 1], item[i:i + 1], cfg, stop, [0],
                                         static_cache=static_cache)[0] for i, row in enumerate(rows)]
        reference = transformers_generate(tiny, injector, rows, user, item, cfg, stop)
    finally:
        injector.remove()
    assert batched == alone == reference
    lengths = sorted(len(r) for r in batched)
    assert lengths[0] < lengths[-1] and lengths[0] <= 3  # some rows ended early, others went on
