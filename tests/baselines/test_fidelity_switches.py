"""The fidelity switches of the word-level baselines (docs/fidelity.md) and their value in each profile.

``method.layer_init`` (PETER): the official encoder deep-copies one layer, so all layers start equal.
``method.valid_criterion``: the official evaluate() weights each batch's token-mean loss by its
number of records; the alternative weights it by its number of target tokens.
"""

import pytest
import torch
from xrec_bench.config import plugin_layer, resolve
from xrec_bench.errors import UserError
from xrec_bench.methods.peter.model import build_model
from xrec_bench.methods.wordlevel.sequences import EncodedSplit, format_ids
from xrec_bench.methods.wordlevel.tokenizer import PAD_ID
from xrec_bench.methods.wordlevel.training import batches, train_word_model
from xrec_bench.methods.wordlevel.validation import ValidationMean
from xrec_bench.plugin import RunContext
from xrec_bench.records import DatasetSplits, Record
from xrec_bench.registry import methods

TINY_PETER = {"emsize": 16, "nhead": 2, "nhid": 32, "nlayers": 3}


def peter_config(profile, **overrides):
    return {**plugin_layer(methods.get("peter"), profile), **TINY_PETER, **overrides}


def test_peter_layers_start_identical_under_the_official_layer_init():
    config = peter_config("paper")
    assert config["layer_init"] == "official-copies"
    torch.manual_seed(0)
    model = build_model(config, 5, 5, 20)
    first = model.layers[0].state_dict()
    for layer in model.layers[1:]:
        state = layer.state_dict()
        assert state.keys() == first.keys()
        assert all(torch.equal(state[name], first[name]) for name in first)
    # Copies, not one module used three times: each layer has its own parameters to train.
    pointers = {layer.linear1.weight.data_ptr() for layer in model.layers}
    assert len(pointers) == 3 and len(list(model.parameters())) == len(dict(model.named_parameters()))


def test_peter_cpu_profile_draws_each_layer_independently():
    config = peter_config("cpu")
    assert config["layer_init"] == "independent"
    torch.manual_seed(0)
    model = build_model(config, 5, 5, 20)
    assert not torch.equal(model.layers[0].in_proj.weight, model.layers[1].in_proj.weight)
    assert not torch.equal(model.layers[0].linear1.weight, model.layers[2].linear1.weight)
    official = build_model(peter_config("paper"), 5, 5, 20)
    assert sum(p.numel() for p in official.parameters()) == sum(p.numel() for p in model.parameters())


def test_an_unknown_layer_init_is_a_user_error():
    with pytest.raises(UserError, match=r"method\.layer_init must be one of official-copies, independent"):
        resolve(method="peter", dataset="yelp-mini", metric_names=["usr"], assignments=["method.layer_init=shared"])


@pytest.mark.parametrize("name", ["att2seq", "nrt", "peter"])
def test_paper_profiles_validate_with_the_official_criterion_and_cpu_with_the_token_mean(name):
    cls = methods.get(name)
    assert plugin_layer(cls, "paper")["valid_criterion"] == "official-batch-weighted"
    assert plugin_layer(cls, "cpu")["valid_criterion"] == "token-weighted"


def test_the_two_criteria_weight_batch_means_by_records_or_by_tokens():
    # Batch 1: two records with 4 and 2 target tokens, token mean 5/3; batch 2: one record, 1 token, mean 4.
    official, tokens = ValidationMean("official-batch-weighted"), ValidationMean("token-weighted")
    for mean, records, count in ((5 / 3, 2, 6), (4.0, 1, 1)):
        official.add(mean, records, count)
        tokens.add(mean, records, count)
    assert official.value == pytest.approx((2 * 5 / 3 + 1 * 4.0) / (2 + 1)) == pytest.approx(22 / 9)
    assert tokens.value == pytest.approx((6 * 5 / 3 + 1 * 4.0) / (6 + 1)) == pytest.approx(2.0)
    for name in ("att2seq", "nrt", "peter"):
        with pytest.raises(UserError, match=r"method\.valid_criterion must be one of official-batch-weighted"):
            resolve(method=name, dataset="yelp-mini", metric_names=["usr"],
                    assignments=["method.valid_criterion=per-record"])


class RecordCostModel(torch.nn.Module):
    """Every target token of a record costs the record's user id; a batch's loss is its token mean."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(()))

    def losses(self, users, items, sequences):
        targets = sequences[:, 1:] != PAD_ID
        nll = (users.float()[:, None] * targets).sum() / targets.sum()
        return {"objective": nll + 0 * self.unused, "text_nll": nll.detach(), "text_tokens": targets.sum()}


@pytest.mark.parametrize("criterion, expected", [("official-batch-weighted", 22 / 9), ("token-weighted", 2.0)])
def test_the_training_loop_validates_with_the_chosen_criterion(criterion, expected):
    # Users 1, 3, 4 with 3, 1 and 0 words: 4, 2 and 1 target tokens (the words, then <eos>). In
    # batches of 2 that is the example above: batch means (1·4 + 3·2)/6 = 5/3 and 4.
    split = EncodedSplit(torch.tensor([1, 3, 4]), torch.tensor([0, 0, 0]),
                         torch.tensor([format_ids([4, 5, 6], 3), format_ids([4], 3), format_ids([], 3)]))
    model = RecordCostModel()
    report = train_word_model(model, torch.optim.SGD(model.parameters(), lr=0.1), split, split, batch_size=2,
                              max_epochs=1, endure=5, clip_norm=None, seed=0, device=torch.device("cpu"),
                              progress=RunContext().progress, valid_criterion=criterion)
    assert report["history"][0]["valid_loss"] == pytest.approx(expected)


def test_a_paper_profile_fit_reports_the_batch_weighted_validation_loss():
    # Explanations of 1 to 9 words, in batches of 2: batches differ in tokens per record.
    texts = ["good", "the food was great and cheap here too", "nice staff", "tasty", "slow service again",
             "great place for a quiet dinner with friends tonight"]
    records = [Record(f"r{k}", k % 3, k % 2, "", "", "", text) for k, text in enumerate(texts)]
    cls = methods.get("nrt")
    # A few epochs at a high rate, so that short and long explanations get clearly different losses.
    config = {**plugin_layer(cls, "paper"), "length": "official", "max_epochs": 8, "training": {"batch_size": 2},
              "emsize": 8, "nhid": 16, "lr": 0.05}
    method = cls(config)
    report = method.fit(DatasetSplits("hand", records, records, records, None, {}), RunContext(seed=0))

    from xrec_bench.methods.wordlevel.ids import build_id_maps
    from xrec_bench.methods.wordlevel.sequences import encode_split

    users, items = build_id_maps(DatasetSplits("hand", records, records, records, None, {}))
    valid = encode_split(records, method.vocab, users, items, 15)
    method.model.eval()
    means, sizes, tokens = [], [], []
    with torch.no_grad():
        for batch_users, batch_items, sequences in batches(valid, 2, None):
            out = method.model.losses(batch_users, batch_items, sequences)
            means.append(float(out["text_nll"]))
            sizes.append(batch_users.shape[0])
            tokens.append(int(out["text_tokens"]))
    batch_weighted = sum(m * b for m, b in zip(means, sizes)) / sum(sizes)
    token_weighted = sum(m * t for m, t in zip(means, tokens)) / sum(tokens)
    assert abs(batch_weighted - token_weighted) > 0.05  # measured: 1.26 against 1.37
    assert report["best_valid_loss"] == pytest.approx(batch_weighted, rel=1e-6)
