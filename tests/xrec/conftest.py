"""Fixtures of the XRec tests."""

from __future__ import annotations

import pytest

from tests.xrec.synthetic import tiny_backbone


@pytest.fixture(scope="session")
def tokenizer_dir() -> str:
    from xrec_bench.models import resolve

    return resolve("smollm2-135m-instruct")


@pytest.fixture
def tiny(tokenizer_dir):
    return tiny_backbone(tokenizer_dir)
