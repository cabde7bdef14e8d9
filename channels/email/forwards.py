"""A mail the customer forwards to us: who wrote it, when, and its text. Pure.

The forwarded mail is the context of the customer's question, so it is kept
whole (its own quoted history included) and marked as forwarded with its
original sender and date; only the customer's note above it is their new text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from channels.email import shapes
from channels.email.quotes import Boundary
from channels.email.reply_words import FORWARD_PREFIXES

_PREFIX = re.compile(r"^\s*\[?([^\W\d_]{1,12}|[^\x00-\x7f]{1,6})\s*(?:\[\d+\])?\s*[:：]", re.UNICODE)
_SENDER = re.compile(r"(?:\"[^\"]*\"|[^\s,\"<>][^,\"<>]*?)?\s*<\s*[\w.+'-]+@[\w.-]+\s*>|[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True, slots=True)
class Forwarded:
    sender: str  # as the forwarded header names them: "Anna Smith <anna@example.com>"
    date: str  # as written by the forwarding client; not parsed (every locale writes it differently)
    subject: str
    text: str


def is_forward_subject(subject: str | None) -> bool:
    """ "Fwd: …", "WG: …", "TR: …", "RV: …" and the other clients' forward prefixes, even after "Re:"."""
    rest = subject or ""
    for _ in range(4):
        match = _PREFIX.match(rest)
        if match is None:
            return False
        if match.group(1).lower() in FORWARD_PREFIXES:
            return True
        rest = rest[match.end():]
    return False


def _sender_value(value: str) -> str:
    return value.strip().rstrip(";").strip()


def _attribution_parts(text: str) -> tuple[str, str]:
    """(sender, date) out of a "03.03.2025, 10:15, "Anna" <anna@x>:" style header line."""
    text = text.rstrip(":： ")
    sender = _SENDER.search(text)
    if sender is None:
        return "", text
    date = text[:sender.start()].strip(" ,")
    date = re.sub(r"(?i)\s*(?:от|from|de|von)$", "", date).strip(" ,")
    return sender.group(0).strip(" ,"), date


def _body(lines: list[str], plain: list[str], start: int) -> str:
    """The forwarded text from ``start``, unindented when the client quoted it, without an "end of" line."""
    body = lines[start:]
    while body and not body[-1].strip():
        body.pop()
    if body and shapes.separator_kind(shapes.clean(body[-1])) == "end":
        body.pop()
    filled = [line for line in body if line.strip()]
    if filled and all(shapes.quote_depth(line) for line in filled):
        body = [shapes.unquote(line, 1) for line in body]
    return "\n".join(line.rstrip() for line in body).strip()


def read_forward(lines: list[str], boundary: Boundary) -> Forwarded:
    """The forwarded mail starting at ``boundary`` (a ``kind == "forward"`` boundary from ``quotes``)."""
    plain = [shapes.clean(shapes.unquote(line)) for line in lines]
    block = boundary.header
    if block is None:
        below = shapes.next_filled(plain, boundary.start + 1) if boundary.start < len(plain) else None
        if below is not None:
            block = shapes.read_header_block(plain, below, after_separator=True)
    if block is not None:
        fields = block.fields
        start = block.end
        closing = shapes.next_filled(plain, start)
        if closing is not None and shapes.separator_kind(plain[closing]) in ("forward", "rule"):
            start = closing + 1  # Zoho draws its "Forwarded message" line below the header too
        return Forwarded(_sender_value(fields.get("from", "")), fields.get("date", ""), fields.get("subject", ""),
                         _body(lines, plain, start))
    below = shapes.next_filled(plain, boundary.start + 1)
    found = shapes.attribution_end(plain, below) if below is not None else None
    if below is not None and found is not None:
        sender, date = _attribution_parts(shapes.join_wrapped(plain[below:found[0]]))
        return Forwarded(sender, date, "", _body(lines, plain, found[0]))
    return Forwarded("", "", "", _body(lines, plain, boundary.start + 1))


def render(forwarded: Forwarded) -> str:
    """The forwarded mail as the agent reads it below the customer's note: marked, with sender and date."""
    header = [f"{label}: {value}" for label, value in (
        ("From", forwarded.sender), ("Date", forwarded.date), ("Subject", forwarded.subject)) if value]
    return "\n".join(["---------- Forwarded message ----------", *header, "", forwarded.text]).strip()


def with_forwards(note: str, forwarded: tuple[Forwarded, ...]) -> str:
    """The note followed by each forwarded mail, as one text."""
    return "\n\n".join(part for part in (note, *(render(f) for f in forwarded)) if part)
