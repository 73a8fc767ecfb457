"""PEPLER as the runner uses it: fit on a yelp-mini slice, explain, save, load (tiny random backbone)."""

from __future__ import annotations

import pytest
from xrec_bench.config import plugin_layer, resolve
from xrec_bench.errors import UserError
from xrec_bench.methods.pepler import Pepler
from xrec_bench.plugin import RunContext
from xrec_bench.registry import methods

from tests.pepler.conftest import sliced


def tiny_config(backbone_dir, **overrides):
    config = plugin_layer(Pepler, "cpu")
    config.update(backbone=str(backbone_dir), length="official", training={"batch_size": 8, "micro_batch_size": 3, "micro_batch_positions": None}, precision="fp32",
                  stage1={"max_epochs": 2, "lr": 1e-2}, stage2={"max_epochs": 2, "lr": 1e-3})
    config.update(overrides)
    return config


def test_registered_with_both_profiles():
    assert methods.get("pepler") is Pepler
    paper, cpu = plugin_layer(Pepler, "paper"), plugin_layer(Pepler, "cpu")
    assert paper["backbone"] == "gpt2" and cpu["backbone"] == "smollm2-135m-instruct"
    assert paper["training"] == {"batch_size": 128, "micro_batch_size": None, "micro_batch_positions": None} and paper["stage1"] == paper["stage2"] == {"max_epochs": 100, "lr": 1e-3}
    assert paper["adam_eps"] == 1e-6 and paper["weight_decay"] == 0.0 and paper["endure"] == 5
    assert paper["stage1_train_token_embeddings"] is True and paper["length"] == cpu["length"] == "xrec"
    assert cpu["stage1"] == {"max_epochs": 2, "lr": 1e-3}  # the profile overrides only what it names
    assert cpu["training"] == {"batch_size": 32, "micro_batch_size": None, "micro_batch_positions": 256}


def test_fit_lowers_the_validation_loss_and_explains_with_text(tiny_backbone_dir, yelp_mini, tmp_path):
    splits = sliced(yelp_mini, 32, 8, 4)
    method = Pepler(tiny_config(tiny_backbone_dir))
    report = method.fit(splits, RunContext(seed=3))

    assert [(row["stage"], row["epoch"]) for row in report["history"]] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    for row in report["history"]:
        assert row["train_loss"] > 0 and row["valid_loss"] > 0 and row["epoch_seconds"] > 0
    assert report["stopped_epoch"] == {"stage1": 2, "stage2": 2}
    assert report["final_valid_loss"] < report["initial_valid_loss"] - 0.5
    assert report["peak_memory_mb"] > 0 and report["max_tokens"] == 20
    assert report["unseen"]["test_users"] == 4

    records = [r.without_reference() for r in splits.test]
    texts = method.explain(records, RunContext())
    assert len(texts) == 4 and all(isinstance(t, str) and t for t in texts)
    assert not any(special in t for t in texts for special in ("<bos>", "<eos>", "<pad>"))

    method.save(tmp_path / "model")
    assert (tmp_path / "model" / "prompts.safetensors").is_file()
    reloaded = Pepler(tiny_config(tiny_backbone_dir))
    reloaded.load(tmp_path / "model", RunContext())
    assert reloaded.explain(records, RunContext()) == texts


def test_seeded_fit_is_reproducible(tiny_backbone_dir, yelp_mini):
    splits = sliced(yelp_mini, 16, 4, 2)
    config = tiny_config(tiny_backbone_dir, stage1={"max_epochs": 1, "lr": 1e-2}, stage2={"max_epochs": 0, "lr": 1e-3})
    first, second = (Pepler(config).fit(splits, RunContext(seed=5)) for _ in range(2))
    assert first["history"][0]["valid_loss"] == second["history"][0]["valid_loss"]


def test_an_unknown_length_setting_is_a_user_error():
    with pytest.raises(UserError, match=r"method\.length must be one of official, xrec, not 'long'"):
        resolve(method="pepler", dataset="yelp-mini", metric_names=["usr"], assignments=["method.length=long"])


def test_load_without_a_saved_model_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="fit it first"):
        Pepler(plugin_layer(Pepler, "cpu")).load(tmp_path, RunContext())
