"""Identifier generation: sortable by creation time, not guessable."""

from __future__ import annotations

import secrets

from conversations.clock import now_ms

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """``<prefix>_`` + 10 chars of milliseconds + 12 random chars (60 bits)."""
    millis = now_ms()
    return f"{prefix}_{_encode(millis, 10)}{_encode(secrets.randbits(60), 12)}"


def customer_id() -> str:
    return new_id("cus")


def conversation_id() -> str:
    return new_id("cnv")


def message_id() -> str:
    return new_id("msg")
