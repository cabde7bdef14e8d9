"""The word split every word rule relies on: the ASCII fast path must find exactly what ``\\w+`` finds."""

from __future__ import annotations

import random
import re

import pytest

from router.conditions import Facts
from router.text import TextView, tokens_of
from tests.router.helpers import WEDNESDAY_MORNING, message

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


PAIRS = [("Re: refund", "I was charged twice"), ("", "only a text"), ("?!", "no words in the subject"),
         ("Subject only", ""), ("Subject only", "..."), ("Grüße", "Straße und Maße"), ("Café", "cafe\u0301 decomposed"),
         ("ǅemal", "ΣΊΣΥΦΟΣ"), ("x" * 9000, "y " * 600)]


@pytest.mark.parametrize(("subject", "text"), PAIRS)
@pytest.mark.parametrize("case_sensitive", [False, True])
def test_the_content_words_are_the_words_of_subject_and_text_joined(subject: str, text: str,
                                                                   case_sensitive: bool) -> None:
    # "content" reuses the subject's and the text's words; it must equal splitting them joined.
    facts = Facts(None, message(text, subject=subject or None), None, WEDNESDAY_MORNING)
    joined = TextView(f"{subject}\n{text}" if subject else text)
    assert facts.view("content").words(case_sensitive) == joined.words(case_sensitive)
    assert facts.view("content").raw == joined.raw
