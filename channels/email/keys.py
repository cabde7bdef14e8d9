"""The email channel's Redis keys (under the core's prefix; global, looked up before the customer is known)."""

from __future__ import annotations

import hashlib

from conversations.keys import PREFIX


def sent_marker(message_id: str) -> str:
    """string: the Message-ID of a mail already handed to the SMTP server."""
    return f"{PREFIX}:email:sent:{message_id}"


def auto_marker(address: str, text: str) -> str:
    """string (SET NX, TTL): this automatic text already went to this address recently."""
    digest = hashlib.sha256(f"{address}\n{text}".encode()).hexdigest()[:24]
    return f"{PREFIX}:email:auto:{digest}"


def message_key(message_id: str) -> str:
    """string: "<conversation id> <message id>" of a mail we sent or received with this Message-ID."""
    return f"{PREFIX}:email:msgid:{message_id}"


def mailgun_token_key(token: str) -> str:
    """string (SET NX, TTL): a Mailgun token already used."""
    return f"{PREFIX}:email:mailgun_token:{hashlib.sha256(token.encode()).hexdigest()}"
