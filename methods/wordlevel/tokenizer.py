"""Word tokenisation for the word-level baselines, the train-only vocabulary, and detokenisation.

XRec's explanations are cased and untokenised; the official code splits its (pre-processed)
explanations on whitespace and nothing more (``add_sentence`` / ``seq2ids`` in lileipisces'
utils.py; docs/fidelity.md, "Shared word-level parts"). Tokenising lowercases and applies the
punctuation/clitic splitting that PEPLER's evaluation uses (``postprocessing`` in
lileipisces/PEPLER utils.py): a space before 's 'm 've n't 're 'd 'll; spaces around ( ) , . ! ?;
runs of ':' become ',' and runs of ';' become '.'; whitespace collapsed. Other characters
(hyphens, quotes, '&', '$') stay inside their words, as in that regex.

The metrics score text, so ``detokenize`` turns generated words back into a readable string: it
re-attaches punctuation and clitics and capitalises sentence starts and the pronoun "i" (the
rest stays lowercase, which is reported in the method config).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from xrec_bench.tokenization import pepler_tokenize

BOS, EOS, PAD, UNK = "<bos>", "<eos>", "<pad>", "<unk>"
SPECIALS = (BOS, EOS, PAD, UNK)  # fixed ids 0..3, as in the official code
BOS_ID, EOS_ID, PAD_ID, UNK_ID = range(4)

_ATTACH_LEFT = {".", ",", "!", "?", ")"}
_SENTENCE_END = {".", "!", "?"}
_CLITICS = {"'s", "'m", "'ve", "n't", "'re", "'d", "'ll"}


def tokenize(text: str) -> list[str]:
    """Lowercase ``text`` and split it into words, punctuation and clitics."""
    return pepler_tokenize(text)


def detokenize(words: Sequence[str]) -> str:
    """Join generated words into a readable sentence (punctuation re-attached, sentence starts capitalised)."""
    pieces: list[str] = []
    capitalise = True
    for index, word in enumerate(words):
        previous = words[index - 1] if index else ""
        following = words[index + 1] if index + 1 < len(words) else ""
        # "5 . 99" and "1 , 000" were numbers before tokenising.
        in_number = word in {".", ","} and previous[-1:].isdigit() and following[:1].isdigit()
        glue_left = (word in _ATTACH_LEFT or word in _CLITICS or previous == "("
                     or (previous in {".", ","} and index >= 2 and words[index - 2][-1:].isdigit()
                         and word[:1].isdigit()))
        shown = word
        if word == "i":
            shown = "I"
        elif capitalise and word[:1].isalpha():
            shown = word[:1].upper() + word[1:]
        if word[:1].isalnum():
            capitalise = False
        if word in _SENTENCE_END and not in_number:
            capitalise = True
        pieces.append(shown if not pieces or glue_left else " " + shown)
    return "".join(pieces)


class Vocabulary:
    """The 4 specials at fixed ids, then the most frequent words of the training explanations."""

    def __init__(self, words: Sequence[str]):
        self.words = list(words)
        self.index = {word: i for i, word in enumerate(self.words)}
        if self.words[: len(SPECIALS)] != list(SPECIALS):
            raise ValueError("a vocabulary starts with the special tokens <bos> <eos> <pad> <unk>")

    @classmethod
    def build(cls, texts: Iterable[str], max_words: int = 20000) -> Vocabulary:
        """Count words over ``texts`` (pass the TRAIN split only) and keep the ``max_words`` most frequent.

        Ties are broken by first occurrence, so the same texts always give the same vocabulary.
        """
        counts = Counter(word for text in texts for word in tokenize(text))
        for special in SPECIALS:
            counts.pop(special, None)
        return cls([*SPECIALS, *(word for word, _ in counts.most_common(max_words))])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str) -> list[int]:
        return [self.index.get(word, UNK_ID) for word in tokenize(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids to a readable string, cut at the first <eos>; <bos>/<pad> are dropped, <unk> kept."""
        words = []
        for token in ids:
            if token == EOS_ID:
                break
            if token not in (BOS_ID, PAD_ID):
                words.append(self.words[token])
        return detokenize(words)
