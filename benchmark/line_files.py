"""How xrec-bench splits its line files (.jsonl, .txt): at ``\\n`` only.

``str.splitlines`` also breaks at U+2028, U+2029, U+0085 and other characters a prediction may hold
(``json.dumps(..., ensure_ascii=False)`` writes them raw), so it must never split these files.
"""

from __future__ import annotations


def split_lines(text: str) -> list[str]:
    """The lines of a text: split at ``\\n`` (a ``\\r`` before it is dropped); a final ``\\n`` ends the
    last line rather than starting an empty one."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]
