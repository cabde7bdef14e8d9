"""Loaded templates and rendering one for a channel; pure.

A template has a text per channel (``sms``, ``email``, ``webchat``, ``slack``)
and a ``default`` for the others: an SMS wants two short lines, an email can
greet and explain. Rendering picks the variant of the channel the message
goes out on and fills the placeholders; whatever cannot be filled is refused
with a reason (an ``InvalidRequest``: the admin API answers 400, Slack tells
the agent), never sent with the braces in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from conversations.errors import InvalidRequest, NotFound
from conversations.models import Channel
from templates.placeholders import MissingValue, Part, fill

DEFAULT = "default"
VARIANTS = (DEFAULT, *(c.value for c in Channel))
# What the gateway fills in itself; callers name anything else in the template's ``variables``.
BUILTIN = {
    "customer.first_name": "the customer's first name (the first word of their name)",
    "customer.name": "the customer's name",
    "conversation.id": "the conversation's id",
    "agent.name": "the name of the agent (or API author) sending it",
}
MAX_VARIABLE = 1000  # characters in one caller variable's value


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    variants: Mapping[str, list[Part]]  # "default" or a channel name → the parsed text
    variables: tuple[str, ...] = ()  # caller variables it may use
    description: str = ""
    subject: list[Part] | None = None  # an email's subject when the message opens a conversation

    def variant_for(self, channel: Channel | None) -> tuple[str, list[Part]]:
        if channel is not None and channel.value in self.variants:
            return channel.value, self.variants[channel.value]
        if DEFAULT in self.variants:
            return DEFAULT, self.variants[DEFAULT]
        raise InvalidRequest(f"template {self.name!r} has no {channel.value if channel else 'default'} text "
                             f"and no default; it has: {', '.join(sorted(self.variants))}")

    def public(self) -> dict[str, object]:
        return {"name": self.name, "description": self.description, "variables": list(self.variables),
                "channels": sorted(self.variants)}


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    variant: str  # which text was used: "default" or a channel
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class TemplateSet:
    templates: Mapping[str, Template] = field(default_factory=dict)
    path: str = ""
    version: str = "empty"

    def get(self, name: str) -> Template:
        template = self.templates.get(name)
        if template is None:
            known = ", ".join(sorted(self.templates)) or "none are loaded"
            raise NotFound(f"no template {name!r} (known: {known})")
        return template

    def render(self, name: str, channel: Channel | None, builtin: Mapping[str, str],
               variables: Mapping[str, str] | None = None) -> Rendered:
        """The text of template ``name`` for ``channel``.

        Raises:
            NotFound: no such template.
            InvalidRequest: a variable it does not declare, a value too long, or a placeholder
                with no value and no fallback.
        """
        template = self.get(name)
        given = dict(variables or {})
        unknown = sorted(set(given) - set(template.variables))
        if unknown:
            declared = ", ".join(template.variables) or "none"
            raise InvalidRequest(f"template {name!r} has no variable {', '.join(map(repr, unknown))} "
                                 f"(it declares: {declared})")
        for key, value in given.items():
            if not isinstance(value, str) or len(value) > MAX_VARIABLE:
                raise InvalidRequest(f"variable {key!r} must be text of at most {MAX_VARIABLE} characters")
        values = {**given, **builtin}
        variant, parts = template.variant_for(channel)
        try:
            text = fill(parts, values)
            subject = fill(template.subject, values) if template.subject is not None else None
        except MissingValue as missing:
            placeholder = missing.placeholder
            raise InvalidRequest(
                f"template {name!r} needs {{{placeholder.name}}}, which has no value here; pass it"
                + (" in variables" if placeholder.name in template.variables else "")
                + f", or give the template a fallback: {{{placeholder.name}|…}}") from None
        if not text.strip():
            raise InvalidRequest(f"template {name!r} rendered to empty text")
        return Rendered(text, variant, subject)

    def public(self) -> list[dict[str, object]]:
        return [self.templates[name].public() for name in sorted(self.templates)]


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
