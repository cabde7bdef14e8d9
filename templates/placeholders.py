"""A template text split into literal text and placeholders; pure.

The syntax is small on purpose: ``{name}`` or ``{name|fallback}`` inserts a
value, ``{{`` and ``}}`` are literal braces, and anything else with a brace is
an error (at load time, so a broken placeholder is never sent literally).
Values are inserted in one pass and never read again, so a customer's name or
a caller's variable that contains braces is text, not a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

NAME = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?\Z")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
MAX_FALLBACK = 200


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str
    fallback: str | None  # used when the value is missing or empty; None: the value is required
    offset: int  # where ``{`` is in the text
    raw: str  # as written, braces included


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    offset: int
    raw: str
    message: str


Part = str | Placeholder


def split(text: str) -> tuple[list[Part], list[SyntaxProblem]]:
    """The text's parts in order, and every syntax problem in it."""
    parts: list[Part] = []
    problems: list[SyntaxProblem] = []
    position = 0
    literal: list[str] = []
    for match in _TOKEN.finditer(text):
        literal.append(text[position:match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        if token in ("{", "}"):
            problems.append(SyntaxProblem(match.start(), token,
                                          f"a lone {token!r}: write {token * 2!r} for a literal brace"))
            continue
        inner = match.group(1)
        name, bar, fallback = inner.partition("|")
        name = name.strip()
        if not NAME.match(name):
            problems.append(SyntaxProblem(match.start(), token,
                                          f"{token} is not a placeholder: use {{name}}, {{name|fallback}}, "
                                          "or {{ and }} for literal braces"))
            continue
        if len(fallback) > MAX_FALLBACK:
            problems.append(SyntaxProblem(match.start(), token, f"the fallback of {{{name}}} is longer than "
                                                                f"{MAX_FALLBACK} characters"))
            continue
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(Placeholder(name, fallback if bar else None, match.start(), token))
    literal.append(text[position:])
    if "".join(literal):
        parts.append("".join(literal))
    return parts, problems


class MissingValue(ValueError):
    def __init__(self, placeholder: Placeholder) -> None:
        super().__init__(placeholder.name)
        self.placeholder = placeholder


def fill(parts: list[Part], values: Mapping[str, str]) -> str:
    """The text with every placeholder's value (or fallback) in place.

    Raises:
        MissingValue: a placeholder has no value (or an empty one) and no fallback.
    """
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = values.get(part.name, "").strip()
        if not value:
            if part.fallback is None:
                raise MissingValue(part)
            value = part.fallback
        out.append(value)
    return "".join(out)
