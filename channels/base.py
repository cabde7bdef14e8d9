"""The contract of a channel adapter's outbound half.

An adapter does three things: verify a provider request, parse it into
``InboundMessage`` values (pure, no I/O), and send an ``OutboundMessage``.
Who the customer is, and which conversation the message joins, is decided
later by ``conversations.service.ingest``. The message values themselves
live in ``conversations.messages``.
"""

from __future__ import annotations

from typing import Protocol

from conversations.messages import OutboundMessage, SendResult
from conversations.models import Channel


class Sender(Protocol):
    """The outbound half of a channel adapter."""

    channel: Channel

    async def send(self, message: OutboundMessage) -> SendResult: ...

    async def close(self) -> None:
        """Release connections; called once when the process stops."""
