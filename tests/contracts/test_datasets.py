"""The dataset contract, over every registered dataset: release folder, item word, splits and card come from
the dataset object, so the CLI and the methods never read anything into a dataset's name."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from xrec_bench.cli import main
from xrec_bench.data.fetch import release_folders
from xrec_bench.data.mini import MiniDataset
from xrec_bench.plugin import Dataset
from xrec_bench.registry import datasets


def registered_datasets() -> list[str]:
    return [entry.name for entry in datasets.entries() if type(entry.obj).__module__.split(".")[0] != "tests"]


@pytest.mark.parametrize("name", registered_datasets())
def test_dataset_contract(name, mirror):
    dataset = datasets.get(name)
    assert isinstance(dataset, Dataset)
    assert dataset.release in release_folders()
    splits = dataset.load(need_train=False)
    assert splits.name == name and splits.test and splits.item_word == dataset.item_word
    assert splits.card["splits"]["test"] == len(splits.test) and splits.card["checksums"]


def test_xrec_calls_amazon_items_books_and_the_others_businesses():
    words = {name: datasets.get(name).item_word for name in registered_datasets()}
    assert {word for name, word in words.items() if name.startswith("amazon")} == {"book"}
    assert {word for name, word in words.items() if not name.startswith("amazon")} == {"business"}


class YelpSlice(MiniDataset):
    """yelp's mini split under a name that says nothing about its release."""


@pytest.fixture
def renamed_dataset(monkeypatch):
    monkeypatch.setattr(datasets, "_entries", dict(datasets._entries))  # restored after the test
    datasets.add("contract-slice", YelpSlice("yelp", "business", zeroshot=False), summary="test double")
    return "contract-slice"


def test_data_fetch_and_info_take_the_release_from_the_dataset_not_its_name(renamed_dataset, mirror, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path / "data"))
    fetched = CliRunner().invoke(main, ["data", "fetch", renamed_dataset, "--source", str(mirror)])
    assert fetched.exit_code == 0, fetched.output
    assert "yelp/tst.pkl: fetched" in fetched.output and (tmp_path / "data" / "yelp" / "tst.pkl").is_file()
    info = CliRunner().invoke(main, ["data", "info", renamed_dataset])
    assert info.exit_code == 0, info.output
    card = json.loads(info.output)
    assert card["splits"] == {"train": 2400, "valid": 300, "test": 300} and card["graph"]["users"] > 0


def test_an_unknown_dataset_is_one_sentence_and_exit_code_2():
    done = CliRunner().invoke(main, ["data", "fetch", "yelp-mni"])
    assert done.exit_code == 2 and "Did you mean 'yelp-mini'?" in done.output
