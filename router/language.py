"""Which language a customer writes in: their ``language`` attribute, else detected, else unknown.

Detection uses py3langid (a maintained fork of langid.py: a naive Bayes model over
byte n-grams, 4.5 MB installed, offline, numpy only). It is restricted to the
languages the rule file has texts in, which is what makes it reliable on the short
first messages support gets: it only has to tell those few apart. docs/ROUTING.md
("Languages") has the figures behind the choice.
"""

from __future__ import annotations

import re
from functools import lru_cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

LANGUAGE_ATTRIBUTE = "language"  # the customer attribute that wins over detection
# Below this share of the probability the text is too short or too mixed to say.
MIN_CONFIDENCE = 0.6
# The opening of a message says its language; classifying all of a 25 MB mail's text
# held the event loop for 170 ms, the first 1,000 characters take 0.3 ms.
SAMPLE_CHARS = 1000
_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")


def normalize(value: object) -> str | None:
    """``de``, ``de-AT``, ``DE_de`` → ``de``; anything else (empty, a name, a number) → None."""
    if not isinstance(value, str):
        return None
    match = _TAG.match(value.strip())
    return match.group(1).lower() if match else None


@lru_cache(maxsize=1)
def known_languages() -> frozenset[str]:
    """The ISO 639-1 codes the detection model knows (read once; the model itself is not kept)."""
    return frozenset(str(code) for code in LanguageIdentifier.from_model_file(MODEL_FILE).nb_classes)


@lru_cache(maxsize=4)
def _identifier(languages: tuple[str, ...]) -> LanguageIdentifier:
    # Loaded on the first detection (about 0.5 s). set_languages narrows the model in
    # place, so each language set gets its own copy; a process normally has one rule file's set.
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(languages))
    return identifier


def _candidates(among: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(set(among) & known_languages()))


def prepare(among: tuple[str, ...]) -> None:
    """Load the model for these languages now (about 0.5 s), where a rule file is compiled,
    not on the first message, inside the event loop."""
    candidates = _candidates(among)
    if len(candidates) >= 2:
        _identifier(candidates)


def detect(text: str, among: tuple[str, ...]) -> str | None:
    """The language of ``text`` among ``among``, or None when it is not clear enough to say."""
    candidates = _candidates(among)
    sample = text[:SAMPLE_CHARS]
    if len(candidates) < 2 or sum(ch.isalpha() for ch in sample) < 3:
        return None
    language, confidence = _identifier(candidates).classify(sample)
    return str(language) if confidence >= MIN_CONFIDENCE else None


def customer_language(attributes: dict[str, str] | None, text: str | None, among: tuple[str, ...]) -> str | None:
    """The customer's ``language`` attribute if it names one, else the language detected in ``text``."""
    stated = normalize((attributes or {}).get(LANGUAGE_ATTRIBUTE))
    if stated is not None:
        return stated
    return detect(text, among) if text else None
