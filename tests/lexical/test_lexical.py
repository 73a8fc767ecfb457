"""The lexical family pinned to hand-computed values, the TF-NMT definitions and XRec's release."""

import math
import random

import pytest
from xrec_bench.errors import UserError
from xrec_bench.metrics.lexical import (
    LexicalOverlap,
    corpus_bleu,
    lcs_length,
    pepler_tokenize,
    rouge_l,
    rouge_n,
)
from xrec_bench.plugin import RunContext

from tests.lexical.oracles import released_predictions, released_references, table_lcs, tfnmt_corpus_bleu


def score(predictions, references):
    return LexicalOverlap({"lowercase": True}).score(predictions, references, RunContext())


def test_tokenizer_lowercases_and_splits_clitics_and_punctuation():
    assert pepler_tokenize("The cat's toy (red), isn't it?!") == [
        "the", "cat", "'s", "toy", "(", "red", ")", ",", "is", "n't", "it", "?", "!"]
    # Runs collapse: ":" -> ",", ";" -> ".", "..." -> "."; we'll / I'd / you're / I'm / I've split off.
    assert pepler_tokenize("Wait... really;; ok: We'll, I'd, you're, I'm, I've") == [
        "wait", ".", "really", ".", "ok", ",", "we", "'ll", ",", "i", "'d", ",", "you", "'re", ",",
        "i", "'m", ",", "i", "'ve"]
    assert pepler_tokenize("Keep Case", lowercase=False) == ["Keep", "Case"]


def test_bleu_by_hand_on_a_two_pair_corpus():
    hyps = ["The cat sat on the mat", "a b c d"]
    refs = ["the cat is on the mat", "a b c d e"]
    # Pair 1: unigrams 5/6 (the×2, cat, on, mat), bigrams 3/5 (the cat, on the, the mat),
    #         trigrams 1/4 (on the mat), 4-grams 0/3.  Pair 2: 4/4, 3/3, 2/2, 1/1.
    # Corpus: p1 = 9/10, p2 = 6/8, p3 = 3/6, p4 = 1/4; c = 10 < r = 11, BP = exp(1 - 11/10).
    bp = math.exp(1 - 11 / 10)
    results = score(hyps, refs)
    assert results["bleu1"].value == pytest.approx(100 * bp * 9 / 10, rel=1e-12)
    assert results["bleu4"].value == pytest.approx(100 * bp * (9 / 10 * 6 / 8 * 3 / 6 * 1 / 4) ** 0.25, rel=1e-12)
    assert results["bleu1"].std is None and results["bleu1"].level == "corpus"


def test_a_zero_ngram_precision_makes_bleu_zero_without_smoothing():
    # 4-grams: 0 of 3 match, so p4 = 0 and BLEU-4 = 0, while BLEU-1 = 100 · 5/6 (c = r, BP = 1).
    results = score(["the cat sat on the mat"], ["the cat is on the mat"])
    assert results["bleu4"].value == 0.0
    assert results["bleu1"].value == pytest.approx(100 * 5 / 6)
    # Every hypothesis shorter than 4 tokens: no possible 4-gram, p4 = 0, BLEU-4 = 0.
    assert score(["a b c"], ["a b c"])["bleu4"].value == 0.0


def test_identical_texts_score_100():
    text = "The food was great, and the staff were friendly!"
    results = score([text, text.upper()], [text, text])
    for name in ("bleu1", "bleu4"):
        assert results[name].value == pytest.approx(100.0)
    for name in ("rouge1_p", "rouge1_r", "rouge2_p", "rouge2_r", "rougeL_p", "rougeL_r"):
        assert results[name].value == pytest.approx(100.0)
    for name in ("rouge1_f", "rouge2_f", "rougeL_f"):  # the 1e-8 / 1e-12 guards cost < 1e-6
        assert results[name].value == pytest.approx(100.0, abs=1e-6)


def test_rouge_n_uses_sets_of_unique_ngrams():
    # hyp "a a b c" -> unigram set {a, b, c}; ref "a b b d" -> {a, b, d}; overlap {a, b}: P = R = 2/3.
    # (Counting with multiplicity, as rouge-score does, would give 2/4.)
    p, r, f = rouge_n(["a", "a", "b", "c"], ["a", "b", "b", "d"], 1)
    assert (p, r) == (2 / 3, 2 / 3)
    assert f == pytest.approx(2 * (4 / 9) / (4 / 3 + 1e-8), rel=1e-15)
    # bigrams {aa, ab, bc} vs {ab, bb, bd}: overlap {ab}: P = R = 1/3.
    assert rouge_n(["a", "a", "b", "c"], ["a", "b", "b", "d"], 2)[:2] == (1 / 3, 1 / 3)


def test_rouge_l_uses_the_tfnmt_beta():
    # LCS("a b", "a x b y") = 2: P = 2/2, R = 2/4, β = P/R = 2, F = (1+4)·0.5·1 / (0.5 + 4·1) = 5/9
    # (β = 1 would give 2/3).
    p, r, f = rouge_l(["a", "b"], ["a", "x", "b", "y"])
    assert (p, r) == (1.0, 0.5)
    assert f == pytest.approx(5 / 9, rel=1e-9)


def test_rouge_values_are_per_sample_means_with_std():
    results = score(["a b", "a a b c"], ["a x b y", "a b b d"])
    # ROUGE-L F per pair: 5/9 (above) and 1/2 (LCS 2 of 4 and 4: P = R = 1/2, β = 1).
    assert results["rougeL_f"].per_sample == pytest.approx([100 * 5 / 9, 50.0])
    assert results["rougeL_f"].value == pytest.approx(100 * (5 / 9 + 1 / 2) / 2)
    assert results["rougeL_f"].std == pytest.approx(100 * (5 / 9 - 1 / 2) / 2)
    assert results["rouge1_p"].per_sample == pytest.approx([100.0, 100 * 2 / 3])
    assert results["rougeL_f"].level == "sample" and results["rougeL_f"].n == 2


def test_empty_hypothesis_scores_zero_without_dividing_by_zero():
    results = score([""], ["a b"])
    for name in ("bleu1", "bleu4", "rouge1_p", "rouge1_r", "rouge1_f", "rouge2_f", "rougeL_p", "rougeL_f"):
        assert results[name].value == 0.0, name
    assert results["mean_length"].value == 0.0
    assert results["distinct1"].status == "skipped" and "no 1-grams" in results["distinct1"].reason


def test_distinct_and_mean_length():
    results = score(["a b a b", "A b"], ["x", "y"])
    # unigrams a b a b a b: 2 distinct of 6; bigrams ab ba ab ab: 2 distinct of 4.
    assert results["distinct1"].value == 2 / 6
    assert results["distinct2"].value == 2 / 4
    assert results["mean_length"].value == 3.0 and results["mean_length"].std == 1.0
    assert results["mean_length"].higher_is_better is None


def test_config_records_the_tokenizer():
    results = score(["a"], ["a"])
    assert results["bleu4"].config == {"tokenizer": "pepler-eval-regex", "lowercase": True, "scale": 100.0}
    assert results["rougeL_f"].config["tokenizer"] == "pepler-eval-regex"
    assert set(results) == set(LexicalOverlap.values)


def test_mismatched_lengths_are_a_user_error():
    with pytest.raises(UserError, match="2 predictions but 1 references"):
        score(["a", "b"], ["a"])


def random_corpus(rng, size):
    words = ["the", "a", "food", "staff", "great", "good", "was", "were", "and"]
    return [[rng.choice(words) for _ in range(rng.randint(0, 9))] for _ in range(size)]


def test_sacrebleu_matches_the_tfnmt_definition_on_random_corpora():
    rng = random.Random(3)
    for _ in range(100):
        size = rng.randint(1, 12)
        hyps, refs = random_corpus(rng, size), random_corpus(rng, size)
        if not any(hyps) or not any(refs):
            continue  # TF-NMT divides by zero there; our handling is pinned by the empty-text tests
        for order in (1, 4):
            assert corpus_bleu(hyps, refs, order) == pytest.approx(tfnmt_corpus_bleu(hyps, refs, order),
                                                                   rel=1e-9, abs=1e-12)


def test_bit_parallel_lcs_equals_the_dynamic_programming_table():
    rng = random.Random(5)
    for _ in range(500):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 80))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 80))]
        assert lcs_length(a, b) == table_lcs(a, b)


@pytest.mark.parametrize("dataset, words", [("amazon", 51.5), ("yelp", 40.7), ("google", 29.4)])
def test_xrec_release_lengths_and_bleu(dataset, words):
    predictions, references = released_predictions(dataset), released_references(dataset)
    results = score(predictions, references)
    assert round(results["mean_length"].value, 1) == words  # whitespace-word mean lengths of the release
    assert results["bleu1"].n == 3000
    hyps = [pepler_tokenize(text) for text in predictions]
    refs = [pepler_tokenize(text) for text in references]
    for order in (1, 4):
        expected = tfnmt_corpus_bleu(hyps, refs, order)
        assert expected > 1.0 and results[f"bleu{order}"].value == pytest.approx(expected, rel=1e-9)
