"""USR / USN against XRec's published values and against the official quadratic loop."""

import random

import pytest
from xrec_bench.errors import UserError
from xrec_bench.metrics.usr import UniqueSentenceRatio, unique_sentence_count
from xrec_bench.plugin import RunContext

from tests.lexical.oracles import official_unique_count, released_predictions


def score(predictions):
    return UniqueSentenceRatio({"tokenizer": "whitespace"}).score(predictions, predictions, RunContext())


def test_google_release_gives_the_published_0_9993():
    results = score(released_predictions("google"))
    assert round(results["usr"].value, 4) == 0.9993
    assert results["usr"].n == 3000
    assert results["usn"].value == 2998  # 2998 / 3000 = 0.99933...
    assert results["usr"].std is None and results["usr"].per_sample is None
    assert results["usr"].level == "corpus" and results["usr"].config == {"tokenizer": "whitespace"}


@pytest.mark.parametrize("dataset", ["amazon", "yelp"])
def test_amazon_and_yelp_releases_are_all_unique(dataset):
    results = score(released_predictions(dataset))
    assert results["usr"].value == 1.0
    assert results["usn"].value == 3000


def test_whitespace_differences_do_not_make_a_sentence_new():
    # "a b" and " a  b " are the same token sequence; "a b." is not ("b." != "b"); "A b" differs in case.
    results = score(["a b", " a  b ", "a b.", "A b"])
    assert results["usn"].value == 3
    assert results["usr"].value == 3 / 4


def test_linear_count_equals_the_official_quadratic_loop_on_random_lists():
    rng = random.Random(7)
    for _ in range(200):
        size = rng.randint(1, 60)
        predictions = [
            rng.choice(["", " ", "\t"]).join(rng.choice("abc") for _ in range(rng.randint(0, 3)))
            for _ in range(size)
        ]
        official = official_unique_count([text.split() for text in predictions])
        assert unique_sentence_count(predictions) == official
        assert score(predictions)["usr"].value == official / size


def test_empty_predictions_and_other_tokenizers_are_refused():
    with pytest.raises(UserError):
        score([])
    with pytest.raises(UserError, match="whitespace"):
        UniqueSentenceRatio({"tokenizer": "bpe"}).score(["a"], ["a"], RunContext())
