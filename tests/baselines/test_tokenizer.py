"""Word tokenisation, the train-only vocabulary, detokenisation and sequence formatting (docs/fidelity.md)."""

import pytest
from xrec_bench.methods.wordlevel.sequences import format_ids, words_for
from xrec_bench.methods.wordlevel.tokenizer import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    Vocabulary,
    detokenize,
    tokenize,
)

SENTENCE = ("The user would enjoy Joe's Diner because it's cozy (and cheap), offers well-priced food: "
            "great!! Don't miss it...")


def test_tokenize_splits_punctuation_and_clitics_like_pepler():
    assert tokenize(SENTENCE) == [
        "the", "user", "would", "enjoy", "joe", "'s", "diner", "because", "it", "'s", "cozy", "(", "and",
        "cheap", ")", ",", "offers", "well-priced", "food", ",", "great", "!", "do", "n't", "miss", "it", "."]
    assert tokenize("a;; b\n\tc") == ["a", ".", "b", "c"]


def test_detokenize_reattaches_punctuation_and_capitalises_sentences():
    assert detokenize(tokenize(SENTENCE)) == (
        "The user would enjoy joe's diner because it's cozy (and cheap), offers well-priced food, "
        "great! Don't miss it.")
    assert detokenize(["i", "paid", "$5", ".", "99", "for", "1", ",", "000", "fries", "."]) == (
        "I paid $5.99 for 1,000 fries.")
    assert detokenize([]) == ""


@pytest.mark.parametrize("text", [
    "The user would enjoy the business because of its friendly staff, great prices and tasty food.",
    "They offer pizza. The service is quick! Would you go?",
])
def test_round_trips(text):
    words = tokenize(text)
    assert detokenize(words) == text  # clean lowercase-after-the-first-word text survives both ways
    assert tokenize(detokenize(words)) == words


def test_vocabulary_comes_from_the_given_texts_only_with_fixed_specials():
    train = ["good food good service", "good pizza"]
    vocab = Vocabulary.build(train, max_words=2)
    assert vocab.words == ["<bos>", "<eos>", "<pad>", "<unk>", "good", "food"]  # ties: first occurrence
    assert (BOS_ID, EOS_ID, PAD_ID, UNK_ID) == (0, 1, 2, 3)
    # "pizza" was cut by max_words and "sushi" appears only outside training: both are <unk>.
    assert vocab.encode("Good sushi, pizza") == [4, UNK_ID, UNK_ID, UNK_ID]
    assert vocab.decode([BOS_ID, 4, 5, EOS_ID, 4]) == "Good food"
    assert len(Vocabulary.build(train)) == 4 + 4


def test_sequence_formatting_truncates_and_pads_to_l_plus_two():
    assert format_ids([5, 6, 7], words=5) == [BOS_ID, 5, 6, 7, EOS_ID, PAD_ID, PAD_ID]
    assert format_ids(list(range(10, 20)), words=3) == [BOS_ID, 10, 11, 12, EOS_ID]
    assert (words_for("official"), words_for("xrec")) == (15, 64)
    with pytest.raises(KeyError):  # config.resolve refuses any other method.length first
        words_for("long")
