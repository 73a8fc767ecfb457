"""PEPLER's validation criterion (``method.valid_criterion``), on a stand-in model with hand-computable losses.

The official evaluate() averages each batch's token-mean loss weighted by the batch's number of
records (``text_loss += batch_size * loss.item()`` ... ``text_loss / total_sample``).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from xrec_bench.config import plugin_layer, resolve
from xrec_bench.errors import UserError
from xrec_bench.methods.pepler import Pepler
from xrec_bench.methods.pepler.training import EncodedSplit, StageTrainer
from xrec_bench.plugin import RunContext

PAD = 0


class RecordCostLM(torch.nn.Module):
    """Every token of a record costs the record's user id; the loss is the mean over the batch's tokens."""

    def nll_sum(self, users, items, token_ids, token_mask):
        return (users.float()[:, None] * token_mask).sum(), int(token_mask.sum())


def validation_loss(criterion: str) -> float:
    # Users 1, 3, 4 with 4, 2 and 1 tokens; batches of 2 give token means (1·4 + 3·2)/6 = 5/3 and 4.
    split = EncodedSplit([1, 3, 4], [0, 0, 0], [[7, 8, 9, 6], [7, 6], [6]])
    config = {**plugin_layer(Pepler, "paper"), "training": {"batch_size": 2, "micro_batch_size": None, "micro_batch_positions": None}, "valid_criterion": criterion}
    trainer = StageTrainer(RecordCostLM(), SimpleNamespace(pad_token_id=PAD), split, split, config, RunContext())
    return trainer.validate()


def test_the_official_criterion_weights_batch_means_by_records():
    assert validation_loss("official-batch-weighted") == pytest.approx((2 * 5 / 3 + 1 * 4) / 3)  # 22/9


def test_the_token_weighted_criterion_is_the_mean_over_every_token():
    assert validation_loss("token-weighted") == pytest.approx((6 * 5 / 3 + 1 * 4) / 7)  # 2.0


def test_profiles_and_unknown_values():
    assert plugin_layer(Pepler, "paper")["valid_criterion"] == "official-batch-weighted"
    assert plugin_layer(Pepler, "cpu")["valid_criterion"] == "token-weighted"
    with pytest.raises(UserError, match=r"method\.valid_criterion must be one of official-batch-weighted"):
        resolve(method="pepler", dataset="yelp-mini", metric_names=["usr"],
                assignments=["method.valid_criterion=per-record"])
