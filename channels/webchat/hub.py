"""Fan-out of conversation events to the sockets this process holds.

One Redis pub/sub connection per process, subscribed to the conversations
that have a socket here; a reply published by any process reaches them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from conversations import keys, redisio

log = logging.getLogger("gateway.webchat.hub")

Deliver = Callable[[dict[str, Any]], Awaitable[None]]
KEEPALIVE_CHANNEL = f"{keys.PREFIX}:events:hub"


class Hub:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._sockets: dict[str, set[Deliver]] = defaultdict(set)
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._pubsub.subscribe(KEEPALIVE_CHANNEL)
        self._reader = asyncio.create_task(self._read(), name="webchat-hub")

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass
        await redisio.aclose(self._pubsub)

    async def join(self, conversation_id: str, deliver: Deliver) -> None:
        if not self._sockets[conversation_id]:
            await self._pubsub.subscribe(keys.conversation_events(conversation_id))
        self._sockets[conversation_id].add(deliver)

    async def leave(self, conversation_id: str, deliver: Deliver) -> None:
        sockets = self._sockets.get(conversation_id)
        if not sockets:
            return
        sockets.discard(deliver)
        if not sockets:
            del self._sockets[conversation_id]
            await self._pubsub.unsubscribe(keys.conversation_events(conversation_id))

    async def _read(self) -> None:
        prefix = keys.conversation_events("")
        while True:
            try:
                event = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pub/sub read failed; retrying")
                await asyncio.sleep(1)
                continue
            if not event or event.get("type") != "message":
                continue
            channel = event["channel"]
            if not channel.startswith(prefix):
                continue
            try:
                payload = json.loads(event["data"])
            except ValueError:
                continue
            for deliver in list(self._sockets.get(channel[len(prefix):], ())):
                await deliver(payload)
