"""Incremental greedy decoding (RNN state, PETER's per-layer key/value cache) equals full re-computation."""

import pytest
import torch
from xrec_bench.methods.att2seq.model import Att2SeqNetwork
from xrec_bench.methods.nrt.model import NRTNetwork
from xrec_bench.methods.peter.model import PeterNetwork
from xrec_bench.methods.wordlevel.decoding import greedy_full, greedy_incremental
from xrec_bench.methods.wordlevel.tokenizer import EOS_ID, PAD_ID

NUM_USERS, NUM_ITEMS, NUM_WORDS = 12, 9, 40


def small_networks():
    torch.manual_seed(0)
    return {
        "att2seq": Att2SeqNetwork(NUM_USERS, NUM_ITEMS, NUM_WORDS, emsize=8, nhid=32, nlayers=2),
        "nrt": NRTNetwork(NUM_USERS, NUM_ITEMS, NUM_WORDS, emsize=16, nhid=24),
        "peter": PeterNetwork(NUM_USERS, NUM_ITEMS, NUM_WORDS, emsize=32, nhead=2, nhid=64, nlayers=2),
    }


def make_eos_unlikely(network):
    # Random RNNs at the official weight scale give every row the same tokens, and random networks
    # often stop at once: larger RNN weights and a lowered <eos> bias give long, row-dependent outputs.
    with torch.no_grad():
        if not isinstance(network, PeterNetwork):
            for parameter in network.parameters():
                parameter.normal_(0.0, 0.5)
        network.hidden2token.bias[EOS_ID] = -10.0


@pytest.mark.parametrize("name", ["att2seq", "nrt", "peter"])
def test_incremental_equals_full_recomputation(name):
    network = small_networks()[name].eval()
    make_eos_unlikely(network)
    users = torch.arange(NUM_USERS)
    items = torch.arange(NUM_USERS) % NUM_ITEMS
    incremental = greedy_incremental(network, users, items, words=20)
    full = greedy_full(network, users, items, words=20)
    assert incremental == full
    assert max(len(tokens) for tokens in full) == 20  # the cap was reached, so 20 steps were compared
    assert len({tuple(tokens) for tokens in full}) > 1  # conditioning on (user, item) matters


@pytest.mark.parametrize("name", ["att2seq", "nrt", "peter"])
def test_step_logits_match_full_logits_and_batch_of_one(name):
    network = small_networks()[name].eval()
    users, items = torch.tensor([3]), torch.tensor([5])  # batch of one: nothing may squeeze it away
    prefix = torch.tensor([[0, 7, 9, 11, 13]])
    state = network.start(users, items)
    for position in range(prefix.shape[1]):
        logits, state = network.step(state, prefix[:, position])
        assert logits.shape == (1, NUM_WORDS)
        expected = network.full_logits(users, items, prefix[:, :position + 1])
        torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)
    assert len(greedy_incremental(network, users, items, words=5)) == 1


def test_peter_cache_masks_generated_pads_like_the_full_pass():
    network = small_networks()["peter"].eval()
    users, items = torch.tensor([1, 2]), torch.tensor([3, 4])
    prefix = torch.tensor([[0, 7, PAD_ID, 9], [0, PAD_ID, 8, 10]])
    state = network.start(users, items)
    for position in range(prefix.shape[1]):
        logits, state = network.step(state, prefix[:, position])
    torch.testing.assert_close(logits, network.full_logits(users, items, prefix), rtol=1e-4, atol=1e-5)


def test_peter_mask_lets_the_user_see_the_item_and_nothing_later():
    from xrec_bench.methods.peter.model import attention_allowed

    allowed = attention_allowed(4, peter_mask=True, device=torch.device("cpu"))
    assert allowed.tolist() == [[True, True, False, False],
                                [True, True, False, False],
                                [True, True, True, False],
                                [True, True, True, True]]
    assert not attention_allowed(4, peter_mask=False, device=torch.device("cpu"))[0, 1]
