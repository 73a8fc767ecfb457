"""How xrec-bench splits its line files (.jsonl, .txt): at ``\\n`` only.

``str.splitlines`` also breaks at U+2028, U+2029, U+0085 and other characters a prediction may hold
(``json.dumps(..., ensure_ascii=False)`` writes them raw), so it must never split these files.
"""

from __future__ import annotations

import os
from pathlib import Path


def split_lines(text: str) -> list[str]:
    """The lines of a text: split at ``\\n`` (a ``\\r`` before it is dropped); a final ``\\n`` ends the
    last line rather than starting an empty one."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def cut_torn_tail(path: Path) -> None:
    """Drop a last line that has no ``\\n`` (a write cut short by a kill), so an append starts a new line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    with open(path, "r+b") as handle:
        handle.truncate(data.rfind(b"\n") + 1)
        handle.flush()
        os.fsync(handle.fileno())
