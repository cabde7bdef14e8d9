"""Outbound web chat: publish the reply to every process holding a socket of the conversation."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from redis.asyncio import Redis

from conversations.messages import OutboundMessage, SendResult
from conversations import keys
from conversations.models import Channel


class WebchatSender:
    channel = Channel.WEBCHAT

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def send(self, message: OutboundMessage) -> SendResult:
        frame = {
            "type": "deliver",
            "message": {
                "id": message.message_id, "direction": "outbound", "author": message.author,
                "text": message.text, "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            },
        }
        receivers = await self.redis.publish(keys.conversation_events(message.conversation_id), json.dumps(frame))
        # Nobody connected: the reply waits in the conversation and arrives with the next welcome.
        return SendResult(delivered=receivers > 0)

    async def close(self) -> None:
        """The Redis client belongs to the process; nothing of the sender's own to release."""
