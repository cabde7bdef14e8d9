"""A text the rule file gives in several languages (``auto_reply``, ``csat.question``).

In the file it is either a plain string (every customer gets it) or a mapping
from a language code to the text: ``{en: "Thanks!", de: "Danke!"}``. The first
language listed is the default for customers whose language is unknown or has
no text of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from router.language import known_languages

MAX_TEXT = 2000


@dataclass(frozen=True, slots=True)
class LocalizedText:
    """Texts per language; ``texts[0]`` is the default. A plain string has language ``""``."""

    texts: tuple[tuple[str, str], ...]

    @property
    def default(self) -> str:
        return self.texts[0][1]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(language for language, _ in self.texts if language)

    def pick(self, language: str | None) -> str:
        """The text in ``language``, else the default."""
        for code, text in self.texts:
            if code and code == language:
                return text
        return self.default

    def __str__(self) -> str:
        return self.default


def plain(text: str) -> LocalizedText:
    return LocalizedText(((("", text),)))


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where} must not be empty")
    if len(value) > MAX_TEXT:
        raise ValueError(f"{where} is longer than {MAX_TEXT} characters")
    return value.strip()


def parse_localized(value: Any) -> Any:
    """A string, or ``{language: text}``; every error names the language key at fault."""
    if isinstance(value, LocalizedText):
        return value
    if isinstance(value, str):
        return plain(_text(value, "the text"))
    if not isinstance(value, dict):
        raise ValueError("expected a text, or texts per language such as {en: 'Thanks', de: 'Danke'}")
    if not value:
        raise ValueError("give at least one language, e.g. {en: 'Thanks'}")
    known = known_languages()
    texts = []
    for key, text in value.items():
        code = str(key)
        if code != code.lower() or code not in known:
            raise ValueError(f"unknown language {code!r}: use a lower-case ISO 639-1 code such as en, de, es, fr")
        texts.append((code, _text(text, f"the {code} text")))
    return LocalizedText(tuple(texts))


# The JSON Schema (``gateway rules schema``) shows a string or a map of strings.
Localized = Annotated[
    LocalizedText,
    PlainValidator(parse_localized),
    WithJsonSchema({
        "anyOf": [
            {"type": "string", "minLength": 1},
            {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string", "minLength": 1},
             "propertyNames": {"pattern": "^[a-z]{2,3}$"}},
        ],
        "description": "a text, or texts per language ({en: ..., de: ...}; the first is the default)",
    }),
]
