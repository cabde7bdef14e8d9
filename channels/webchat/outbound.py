"""Outbound web chat: publish the reply to every process holding a socket of the conversation.

Publishing is "sent", never "delivered": a process may hold a socket whose
visitor no longer reads, or none at all. The reply becomes ``delivered`` when
a socket of that visitor answers the frame with ``delivered`` (``web.py``);
until then it stays ``sent`` and is shown again in the visitor's next ``welcome``.
"""

from __future__ import annotations

import json

from redis.asyncio import Redis

from conversations.messages import OutboundMessage, SendResult
from conversations import keys
from conversations.clock import utcnow
from conversations.ratings import QUESTION, QUESTION_META
from conversations.models import Channel


class WebchatSender:
    channel = Channel.WEBCHAT

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def send(self, message: OutboundMessage) -> SendResult:
        shown: dict[str, object] = {
            "id": message.message_id, "direction": "outbound", "author": message.author,
            "text": message.text, "created_at": utcnow().isoformat().replace("+00:00", "Z"),
            # Links the widget shows; signed, so the visitor needs no token to open them.
            "attachments": [{"name": f.name, "content_type": f.content_type, "size": f.size, "url": f.url}
                            for f in message.files],
        }
        if message.meta.get(QUESTION_META) == QUESTION:
            shown["csat"] = True  # a survey question: the widget shows 1-5 buttons
        frame = {"type": "deliver", "conversation_id": message.conversation_id, "message": shown}
        await self.redis.publish(keys.conversation_events(message.conversation_id), json.dumps(frame))
        return SendResult(delivered=False)

    async def close(self) -> None:
        """The Redis client belongs to the process; nothing of the sender's own to release."""
