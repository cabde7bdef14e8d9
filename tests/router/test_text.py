"""The word split every word rule relies on: the ASCII fast path must find exactly what ``\\w+`` finds."""

from __future__ import annotations

import random
import re

import pytest

from router.text import tokens_of

WORD = re.compile(r"\w+")


def test_every_ascii_character_splits_as_the_regex_does() -> None:
    rng = random.Random(5)
    alphabet = [chr(i) for i in range(128)]
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert tokens_of(text) == WORD.findall(text), repr(text)


@pytest.mark.parametrize("text", ["Grüße aus München!", "naïve café_au-lait", "日本語のテキスト, ok", "İstanbul ǅ x²"])
def test_non_ascii_text_keeps_the_unicode_words(text: str) -> None:
    assert tokens_of(text) == WORD.findall(text)
