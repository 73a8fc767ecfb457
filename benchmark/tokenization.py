"""The one word tokenizer of the PETER/PEPLER line: used by the lexical metrics and the word-level baselines."""

from __future__ import annotations

import re

# PEPLER's evaluation regex (postprocessing in lileipisces/PEPLER utils.py; docs/fidelity.md, Metrics),
# applied in this order: clitics, brackets, punctuation runs.
_PEPLER_RULES = tuple((re.compile(pattern), replacement) for pattern, replacement in (
    (r"('s|'m|'ve|n't|'re|'d|'ll)", r" \1"), (r"\(", " ( "), (r"\)", " ) "), (r",+", " , "),
    (r":+", " , "), (r";+", " . "), (r"\.+", " . "), (r"!+", " ! "), (r"\?+", " ? "),
))


def pepler_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Lowercase, split off punctuation and English clitics as PEPLER's evaluation does, split on spaces."""
    if lowercase:
        text = text.lower()
    for pattern, replacement in _PEPLER_RULES:
        text = pattern.sub(replacement, text)
    return text.split()
