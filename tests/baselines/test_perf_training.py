"""The word-level text loss projects only non-pad positions onto the vocabulary: the same loss and
gradients as the full-logit cross-entropy with ``ignore_index``, and a faster training step."""

import copy
import time

import pytest
import torch
import torch.nn.functional as F
from xrec_bench.methods.att2seq.model import Att2SeqNetwork
from xrec_bench.methods.nrt.model import NRTNetwork
from xrec_bench.methods.peter.model import SOURCE_LENGTH, PeterNetwork
from xrec_bench.methods.wordlevel.tokenizer import BOS_ID, EOS_ID, PAD_ID


def full_logit_nll(model, users, items, sequences):
    """The loss as computed before: logits for every position, pads ignored by cross_entropy."""
    if isinstance(model, PeterNetwork):
        logits = model.hidden2token(model.encode(users, items, sequences[:, :-1])[:, SOURCE_LENGTH:])
    else:
        logits, _ = model.run(model.start(users, items), sequences[:, :-1])
    targets = sequences[:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD_ID)


def padded_batch(rows: int, words: int, vocabulary: int, seed: int = 0):
    """``<bos> w.. <eos> <pad>..`` rows of 1 to ``words`` words (about a third of the targets are pads)."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(words // 3, words + 1, (rows,), generator=generator)
    sequences = torch.full((rows, words + 2), PAD_ID, dtype=torch.long)
    for row, length in enumerate(lengths.tolist()):
        sequences[row, 0] = BOS_ID
        sequences[row, 1:length + 1] = torch.randint(4, vocabulary, (length,), generator=generator)
        sequences[row, length + 1] = EOS_ID
    return torch.arange(rows) % 7, torch.arange(rows) % 5, sequences


NETWORKS = {
    "att2seq": lambda words: Att2SeqNetwork(7, 5, words, emsize=8, nhid=16, dropout=0.0),
    "nrt": lambda words: NRTNetwork(7, 5, words, emsize=8, nhid=16),
    "peter": lambda words: PeterNetwork(7, 5, words, emsize=16, nhead=2, nhid=32, dropout=0.0),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_the_loss_and_gradients_equal_the_full_logit_loss(name):
    torch.manual_seed(0)
    model = NETWORKS[name](40).eval()
    users, items, sequences = padded_batch(6, 9, 40)
    assert (sequences[:, 1:] == PAD_ID).any()  # pads to skip

    reference = full_logit_nll(model, users, items, sequences)
    reference_grads = torch.autograd.grad(reference, list(model.parameters()), allow_unused=True)
    if name == "peter":
        model.context_reg = 0.0  # the objective is then the text loss alone
    objective = model.losses(users, items, sequences)["objective"]
    grads = torch.autograd.grad(objective, list(model.parameters()), allow_unused=True)
    torch.testing.assert_close(objective.detach(), reference.detach())
    for got, want in zip(grads, reference_grads):
        assert (got is None) == (want is None)
        if got is not None:
            torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)


@pytest.mark.perf
def test_an_nrt_training_step_is_faster_than_with_full_logits(benchmark):
    """NRT's cpu-profile shapes (batch 50 of up to 64 words, a yelp-mini-sized vocabulary)."""
    torch.manual_seed(0)
    users, items, sequences = padded_batch(50, 64, 6923)
    models = {way: NRTNetwork(3000, 3000, 6923) for way in ("full", "projected")}
    models["projected"] = copy.deepcopy(models["full"])
    optimizers = {way: torch.optim.Adam(m.parameters(), lr=1e-3) for way, m in models.items()}

    def step(way):
        model, optimizer = models[way], optimizers[way]
        optimizer.zero_grad(set_to_none=True)
        loss = (full_logit_nll(model, users, items, sequences) if way == "full"
                else model.losses(users, items, sequences)["objective"])
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    step("full"), step("projected")  # warm-up
    seconds = {"full": 0.0, "projected": 0.0}
    for _ in range(3):  # interleaved, so that a neighbour's load hits both ways alike
        for way in seconds:
            started = time.process_time()
            step(way)
            seconds[way] += time.process_time() - started
    benchmark.pedantic(step, args=("projected",), rounds=1, iterations=1)
    speedup = seconds["full"] / seconds["projected"]
    benchmark.extra_info.update({"full_cpu_s_per_step": seconds["full"] / 3,
                                 "projected_cpu_s_per_step": seconds["projected"] / 3,
                                 "speedup": round(speedup, 2), "threads": torch.get_num_threads()})
    print(benchmark.extra_info)
    assert speedup >= 1.15
