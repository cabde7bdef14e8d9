"""Every Redis key the gateway's own modules use (the inbox's live updates), in one place."""

from __future__ import annotations

from conversations.keys import PREFIX

# pub/sub: every domain event of every process, as JSON, for the inbox pages' live updates.
INBOX_EVENTS = f"{PREFIX}:events:inbox"


def inbox_ticket(digest: str) -> str:
    """string (30 s): a single-use ticket of the inbox's live socket, by the SHA-256 of the ticket."""
    return f"{PREFIX}:inbox:ticket:{digest}"
