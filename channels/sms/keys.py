"""The SMS channel's Redis keys (under the core's prefix)."""

from __future__ import annotations

from conversations import keys


def sent_marker(message_id: str) -> str:
    """string: the MessageSid Twilio gave our message, so a re-run job does not text twice."""
    return f"{keys.PREFIX}:sms:sent:{message_id}"
