"""PEPLER's model parts on a tiny random LLaMA: labels, stage freezing, decoding with and without a KV cache."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from xrec_bench.methods.pepler import LENGTH_SETTINGS
from xrec_bench.methods.pepler.encoding import (
    batch_order,
    decode_generated,
    encode_explanation,
    pad_right,
    row_slices,
)
from xrec_bench.methods.pepler.generation import greedy_generate
from xrec_bench.methods.pepler.model import PromptedLM, load_backbone

from tests.pepler.conftest import backward_with_a_context_per_slice


@pytest.fixture()
def tiny(tiny_backbone_dir):
    torch.manual_seed(0)
    backbone, tokenizer = load_backbone(str(tiny_backbone_dir))
    return PromptedLM(backbone, num_users=5, num_items=4), tokenizer


def test_the_package_imports_no_torch():
    code = "import sys, xrec_bench.methods.pepler; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_special_tokens_are_added_and_the_embeddings_resized(tiny):
    model, tokenizer = tiny
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<bos>", "<eos>", "<pad>")
    assert len({tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}) == 3
    assert model.backbone.get_input_embeddings().num_embeddings == len(tokenizer) == 49152 + 3
    # The LM head stays tied to the resized token embeddings.
    assert model.backbone.get_output_embeddings().weight is model.backbone.get_input_embeddings().weight


def test_explanations_are_wrapped_in_bos_eos_and_cut_to_the_length_setting(tiny):
    _, tokenizer = tiny
    text = "The user would enjoy the place because of its friendly staff and fresh food. " * 3
    ids = encode_explanation(tokenizer, text, LENGTH_SETTINGS["official"])
    assert len(ids) == 20 + 2
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ids[1:-1]) == tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"][:20])
    short = encode_explanation(tokenizer, "Great tacos.", 96)
    assert tokenizer.decode(short[1:-1]) == "Great tacos."


def test_loss_is_the_token_mean_nll_of_the_text_after_the_prompt(tiny):
    model, tokenizer = tiny
    model.eval()
    sequences = [encode_explanation(tokenizer, t, 96) for t in ["Good pizza and quick service.", "Quiet."]]
    ids, mask = pad_right(sequences, tokenizer.pad_token_id)
    users, items = torch.tensor([1, 3]), torch.tensor([0, 2])
    with torch.no_grad():
        loss = model(users, items, ids, mask)
        embeds = torch.cat([model.prompt_embeddings(users, items), model.backbone.get_input_embeddings()(ids)], 1)
        log_probs = model.backbone(inputs_embeds=embeds).logits.log_softmax(-1)
    # Position p predicts input p+1; the prompt is 2 long, so text token t is predicted at 1 + t
    # (the item position predicts <bos>, as in the official code); pads are not predicted.
    nll = [-log_probs[row, 1 + t, token] for row, seq in enumerate(sequences) for t, token in enumerate(seq)]
    assert torch.allclose(loss, torch.stack(nll).mean(), atol=1e-5)
    with torch.no_grad():  # whatever sits in the pad positions does not matter
        assert torch.allclose(model(users, items, ids.masked_fill(mask == 0, 7), mask), loss, atol=1e-5)


@pytest.mark.parametrize("rows, positions", [(1, None), (2, None), (None, 20)])
def test_micro_batches_accumulate_the_whole_batch_gradient(tiny, rows, positions):
    from xrec_bench.methods.pepler.training import EncodedSplit, StageTrainer
    from xrec_bench.plugin import RunContext

    model, tokenizer = tiny
    model.eval()  # no dropout: the two ways must see the same network
    texts = ["Good pizza and quick service.", "Quiet.", "The staff were friendly and the room was clean."]
    batch = (torch.tensor([1, 3, 0]), torch.tensor([0, 2, 1]),
             *pad_right([encode_explanation(tokenizer, t, 96) for t in texts], tokenizer.pad_token_id))

    if positions:  # rows of 9, 5 and 14 tokens: [0, 1] (2 x 9 positions) and [2] (14)
        assert row_slices(batch[3].sum(dim=1).tolist(), None, positions) == [slice(0, 2), slice(2, 3)]

    def gradients(micro_batch_size, micro_batch_positions=None):
        config = {"training": {"micro_batch_size": micro_batch_size, "micro_batch_positions": micro_batch_positions},
                  "precision": "fp32"}
        trainer = StageTrainer(model, tokenizer, EncodedSplit([], [], []), EncodedSplit([], [], []),
                               config, RunContext())
        model.zero_grad(set_to_none=True)
        nll, count = trainer._nll(batch, backward=True)
        return nll / count, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    whole_loss, whole = gradients(None)
    sliced_loss, sliced = gradients(rows, positions)
    with torch.no_grad():
        assert whole_loss == pytest.approx(float(model(*batch)), abs=1e-5)  # HF-style token mean
    assert sliced_loss == pytest.approx(whole_loss, abs=1e-5) and whole.keys() == sliced.keys()
    for name, grad in whole.items():
        torch.testing.assert_close(sliced[name], grad, atol=1e-6, rtol=1e-4, msg=name)


def test_one_bf16_autocast_context_per_batch_gives_the_gradient_of_one_context_per_slice(tiny):
    """The trainer opens autocast once per batch (its cached weight casts live across slices); the
    gradient is bit for bit the one of opening it around each slice's forward pass."""
    from xrec_bench.methods.pepler.training import EncodedSplit, StageTrainer
    from xrec_bench.plugin import RunContext

    model, tokenizer = tiny
    model.eval()
    model.set_stage(2, True)
    texts = ["Good pizza and quick service.", "Quiet.", "The staff were friendly and the room was clean.", "Ok."]
    users, items = torch.tensor([1, 3, 0, 2]), torch.tensor([0, 2, 1, 3])
    ids, mask = pad_right([encode_explanation(tokenizer, t, 96) for t in texts], tokenizer.pad_token_id)

    model.zero_grad(set_to_none=True)
    backward_with_a_context_per_slice(model, users, items, ids, mask, rows=2)
    per_slice = {n: p.grad.clone() for n, p in model.named_parameters()}

    config = {"training": {"micro_batch_size": 2, "micro_batch_positions": None}, "precision": "bf16-autocast"}
    trainer = StageTrainer(model, tokenizer, EncodedSplit([], [], []), EncodedSplit([], [], []), config, RunContext())
    model.zero_grad(set_to_none=True)
    trainer._nll((users, items, ids, mask), backward=True)
    for name, parameter in model.named_parameters():
        assert torch.equal(parameter.grad, per_slice[name]), name


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_the_attention_setting_picks_the_kernel_and_is_kept_on_load(tiny_backbone_dir, tmp_path, attention):
    from xrec_bench.methods.pepler.model import load_model, save_model

    backbone, tokenizer = load_backbone(str(tiny_backbone_dir), attention)
    assert backbone.config._attn_implementation == attention
    save_model(PromptedLM(backbone, 2, 2), tokenizer, tmp_path, {"config": {"attention": attention}})
    loaded, _, _ = load_model(tmp_path)
    assert loaded.backbone.config._attn_implementation == attention


def test_each_stage_reloads_its_best_state_from_disk_and_leaves_no_file(tiny, yelp_mini, tmp_path):
    """The best state lives in the run's scratch directory, not in memory, and is removed after its stage."""
    from xrec_bench.methods.pepler.training import StageTrainer, encode_split
    from xrec_bench.methods.wordlevel.ids import build_id_maps
    from xrec_bench.plugin import RunContext

    model, tokenizer = tiny
    users, items = build_id_maps(yelp_mini)
    model = PromptedLM(model.backbone, users.num_rows, items.num_rows)
    train = encode_split(yelp_mini.train[:16], tokenizer, users, items, 20)
    valid = encode_split(yelp_mini.valid[:8], tokenizer, users, items, 20)
    config = {"training": {"batch_size": 8, "micro_batch_size": 4, "micro_batch_positions": None}, "precision": "fp32", "group_by_length": False,
              "valid_criterion": "token-weighted", "stage1": {"max_epochs": 3, "lr": 3.0}, "adam_eps": 1e-6,
              "weight_decay": 0.0, "endure": 5, "stage1_train_token_embeddings": False}
    trainer = StageTrainer(model, tokenizer, train, valid, config, RunContext(scratch_dir=tmp_path))
    report = trainer.run_stage(1)
    assert not report["history"][-1]["improved"]  # the last epoch was worse: the best one must be reloaded
    assert trainer.validate() == pytest.approx(report["best_valid_loss"], rel=1e-6)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("train_token_embeddings", [True, False])
def test_stage_one_trains_only_the_prompts_and_optionally_the_token_embeddings(tiny, train_token_embeddings):
    model, tokenizer = tiny
    model.set_stage(1, train_token_embeddings)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    expected = {"user_prompt.weight", "item_prompt.weight"}
    if train_token_embeddings:
        expected.add("backbone.model.embed_tokens.weight")
    assert trainable == expected
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2, eps=1e-6, weight_decay=0.0)
    ids, mask = pad_right([encode_explanation(tokenizer, "Nice view.", 96)], tokenizer.pad_token_id)
    model(torch.tensor([0]), torch.tensor([1]), ids, mask).backward()
    optimizer.step()
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == expected
    model.set_stage(2, train_token_embeddings)
    assert all(p.requires_grad for p in model.parameters())


def test_kv_cache_decoding_gives_the_same_tokens_as_full_recomputation(tiny):
    model, tokenizer = tiny
    model.eval()
    users, items = torch.tensor([0, 1, 2, 3, 4]), torch.tensor([3, 2, 1, 0, 0])
    args = (model, users, items, tokenizer.bos_token_id, tokenizer.eos_token_id, 24)
    cached = greedy_generate(*args, use_cache=True)
    full = greedy_generate(*args, use_cache=False)
    assert cached.shape == (5, 24)
    assert torch.equal(cached, full)
    assert len({tuple(row) for row in cached.tolist()}) > 1  # the prompts steer the output


def test_decoding_stops_once_every_row_has_ended(tiny):
    model, tokenizer = tiny
    model.eval()
    users, items = torch.tensor([0, 1]), torch.tensor([0, 1])
    bos = model.backbone.get_input_embeddings()(torch.tensor([[tokenizer.bos_token_id]] * 2))
    with torch.no_grad():
        prefix = torch.cat([model.prompt_embeddings(users, items), bos], dim=1)
        hidden = model.backbone(inputs_embeds=prefix, output_hidden_states=True).hidden_states[-1][:, -1]
        # Point <eos>'s (tied) output row along both rows' last hidden state: it becomes the argmax.
        direction = (hidden / hidden.norm(dim=-1, keepdim=True)).sum(0)
        model.backbone.get_input_embeddings().weight[tokenizer.eos_token_id] = 1e3 * direction
    generated = greedy_generate(model, users, items, tokenizer.bos_token_id, tokenizer.eos_token_id, 24)
    assert generated.tolist() == [[tokenizer.eos_token_id]] * 2


def test_decoded_text_is_cut_at_eos_and_has_no_special_tokens(tiny):
    _, tokenizer = tiny
    good = tokenizer("Lovely patio", add_special_tokens=False)["input_ids"]
    rows = torch.tensor([[*good, tokenizer.eos_token_id, *good, tokenizer.eos_token_id],
                         [tokenizer.bos_token_id, *good, tokenizer.pad_token_id, *good]])
    first, second = decode_generated(tokenizer, rows)
    assert first == "Lovely patio"
    assert "<bos>" not in second and "<pad>" not in second and second.startswith("Lovely patio")


@pytest.mark.parametrize("group_by_length", [True, False])
def test_batch_order_covers_every_record_once_and_is_seeded(group_by_length):
    lengths = [5, 9, 3, 12, 7, 7, 30, 4, 8, 2, 11]
    def order(seed):
        return batch_order(lengths, 3, torch.Generator().manual_seed(seed), group_by_length)
    batches = order(1)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [len(b) for b in batches].count(3) == 3
    assert order(1) == batches and order(2) != batches
    assert batch_order(lengths, 4, None, False) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]


def test_row_slices_keep_each_pass_within_its_rows_and_positions():
    lengths = [3, 3, 4, 10, 10, 30]
    assert row_slices(lengths, None, None) == [slice(0, 6)]
    assert row_slices(lengths, 4, None) == [slice(0, 4), slice(4, 6)]
    # rows x longest row: 3 x 4 = 12, then 2 x 10 = 20; the 30-token row exceeds 25 and goes alone
    assert row_slices(lengths, None, 25) == [slice(0, 3), slice(3, 5), slice(5, 6)]
    assert row_slices(lengths, 2, 25) == [slice(0, 2), slice(2, 4), slice(4, 5), slice(5, 6)]
    assert row_slices([], 8, 256) == []
    for rows, positions in [(None, 25), (2, 25), (3, 40)]:
        parts = row_slices(lengths, rows, positions)
        assert [i for part in parts for i in range(len(lengths))[part]] == list(range(len(lengths)))
        for part in parts:
            size = len(lengths[part])
            assert size == 1 or (size * max(lengths[part]) <= positions and (rows is None or size <= rows))
