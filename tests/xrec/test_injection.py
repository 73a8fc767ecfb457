"""The hooks change exactly the marked positions' embeddings and Q/K/V, in every layer, and nothing else."""

from __future__ import annotations

import pytest
import torch
from xrec_bench.methods.xrec.injection import CollaborativeInjector, attention_projections, grouped_mean
from xrec_bench.methods.xrec.prompting import ITEM_TOKEN, USER_TOKEN


def test_grouped_mean_hand_computed():
    # 4 query heads of width 2, 2 K/V heads: K/V head 0 serves query heads 0-1, head 1 serves 2-3.
    vector = torch.tensor([[1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0]])
    assert grouped_mean(vector, 4, 2).tolist() == [[2.0, 3.0, 20.0, 30.0]]
    assert grouped_mean(vector, 4, 4) is vector


def prompt_batch(tiny):
    tok = tiny.tokenizer
    texts = [f"user {USER_TOKEN} item {ITEM_TOKEN} is nice", f"a longer text: user {USER_TOKEN} and item {ITEM_TOKEN} ok"]
    rows = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    from xrec_bench.methods.xrec.generation import left_padded

    return left_padded(rows, tok.pad_token_id)


def capture(model):
    """Record every q/k/v projection's input and (post-hook) output, and the embedding output."""
    seen = {"proj": [], "embed": None}
    handles = []
    for layer, projections in enumerate(attention_projections(model)):
        for name, module in zip("qkv", projections):
            def hook(mod, inputs, output, layer=layer, name=name):
                seen["proj"].append((layer, name, mod, inputs[0].detach().clone(), output.detach().clone()))
            handles.append(module.register_forward_hook(hook))

    def embed_hook(mod, inputs, output):
        seen["embed"] = output.detach().clone()
    handles.append(model.get_input_embeddings().register_forward_hook(embed_hook))
    return seen, handles


@pytest.mark.parametrize("mode", ["all-layers", "input-only", "none"])
def test_hooks_touch_only_marked_positions(tiny, mode):
    model = tiny.model
    injector = CollaborativeInjector(model, tiny.user_token_id, tiny.item_token_id, mode)
    seen, handles = capture(model)  # registered after the injector's hooks: sees their result
    ids, mask = prompt_batch(tiny)
    torch.manual_seed(1)
    user, item = torch.randn(2, 64), torch.randn(2, 64)
    with torch.no_grad(), injector.inject(user, item):
        model(input_ids=ids, attention_mask=mask)
    for h in handles:
        h.remove()
    injector.remove()
    user_at = ids == tiny.user_token_id
    item_at = ids == tiny.item_token_id
    assert user_at.sum() == 2 and item_at.sum() == 2

    table = model.get_input_embeddings().weight[ids]
    expected_embed = table.clone()
    if mode != "none":
        expected_embed[user_at] = user
        expected_embed[item_at] = item
    torch.testing.assert_close(seen["embed"], expected_embed)

    layers = {layer for layer, *_ in seen["proj"]}
    assert layers == set(range(model.config.num_hidden_layers))
    for layer, name, module, inputs, output in seen["proj"]:
        with torch.no_grad():
            plain = torch.nn.functional.linear(inputs, module.weight)
        delta = output - plain
        if mode != "all-layers":
            torch.testing.assert_close(delta, torch.zeros_like(delta))
            continue
        u, i = (user, item) if name == "q" else (grouped_mean(user, 4, 2), grouped_mean(item, 4, 2))
        torch.testing.assert_close(delta[user_at], u, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(delta[item_at], i, atol=1e-5, rtol=1e-4)
        untouched = ~(user_at | item_at)
        assert delta[untouched].abs().max() == 0, f"layer {layer} {name}: a position without a token changed"


def test_unarmed_hooks_change_nothing(tiny):
    ids, mask = prompt_batch(tiny)
    with torch.no_grad():
        before = tiny.model(input_ids=ids, attention_mask=mask).logits
        injector = CollaborativeInjector(tiny.model, tiny.user_token_id, tiny.item_token_id)
        after = tiny.model(input_ids=ids, attention_mask=mask).logits
    injector.remove()
    torch.testing.assert_close(before, after)


def test_generation_with_kv_cache_equals_without(tiny):
    from xrec_bench.methods.xrec import XRec
    from xrec_bench.methods.xrec.generation import generate_ids

    injector = CollaborativeInjector(tiny.model, tiny.user_token_id, tiny.item_token_id)
    ids, mask = prompt_batch(tiny)
    rows = [row[m.bool()].tolist() for row, m in zip(ids, mask)]
    torch.manual_seed(2)
    user, item = 3 * torch.randn(2, 64), 3 * torch.randn(2, 64)
    cfg = {**XRec.defaults["generation"], "max_new_tokens": 8}
    stop, seeds = tiny.end_of_turn_ids(True), [0, 1]
    cached = generate_ids(tiny, injector, rows, user, item, {**cfg, "use_cache": True}, stop, seeds)
    uncached = generate_ids(tiny, injector, rows, user, item, {**cfg, "use_cache": False}, stop, seeds)
    assert cached == uncached
    assert all(len(r) == 8 for r in cached)
    # The injection matters (otherwise the comparison above would prove nothing).
    other = generate_ids(tiny, injector, rows, -user, -item, {**cfg, "use_cache": True}, stop, seeds)
    assert other != cached
    injector.remove()


def test_the_grouped_eager_kernels_equal_eager_in_float32(tiny):
    from xrec_bench.methods.xrec.backbone import use_attention

    ids = torch.randint(0, 200, (2, 12))
    mask = torch.ones_like(ids)
    mask[0, :3] = 0  # left padding
    logits = {}
    for kernel in ("eager", "eager_low_memory", "eager_grouped"):
        use_attention(tiny, kernel)
        assert tiny.model.config._attn_implementation == kernel
        with torch.no_grad():
            logits[kernel] = tiny.model(input_ids=ids, attention_mask=mask).logits[mask.bool()]
    use_attention(tiny, "sdpa")
    torch.testing.assert_close(logits["eager_low_memory"], logits["eager"], atol=0, rtol=0)
    torch.testing.assert_close(logits["eager_grouped"], logits["eager"], atol=0, rtol=0)
