"""Secrets out of judge text: a judge or proxy that echoes its request may repeat the API key.

Everything a judge returns passes through ``redact`` before it is cached or put in a result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
_PATTERNS = (
    re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{6,}"),  # Authorization header values
    re.compile(r"(?i)\b(api[_-]?key|authorization|x-api-key|password|secret)(\W{1,3})[^\s\"',;}]{6,}"),
    re.compile(r"()()\b(?:sk|rk|pk)-[A-Za-z0-9_-]{8,}"),  # OpenAI-style keys, wherever they appear
    re.compile(r"()()\bhf_[A-Za-z0-9]{20,}"),  # Hugging Face tokens
)


def redact(text: str, known_secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every known secret and anything shaped like a credential replaced by ``***``."""
    for secret in known_secrets:
        if secret:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return text
