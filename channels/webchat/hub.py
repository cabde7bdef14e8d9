"""Fan-out of conversation events to the sockets this process holds.

One Redis pub/sub connection per process, subscribed to the conversations
that have a socket here; a reply published by any process reaches them.

The connection is used by one coroutine at a time (a lock): the reader
waits for events in short slices, and a socket that joins subscribes between
two slices and waits for Redis to confirm, so whatever is published after
``join`` returns reaches it. (Two coroutines on one pub/sub connection break
when Redis restarts: both read the reconnection's answers.) When Redis goes
away the reader logs it once, retries with a bounded back-off, and logs once
when it is back; redis-py subscribes the channels again on reconnecting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from conversations import keys, redisio

log = logging.getLogger("gateway.webchat.hub")

Deliver = Callable[[dict[str, Any]], Awaitable[None]]
KEEPALIVE_CHANNEL = f"{keys.PREFIX}:events:hub"
READ_SLICE = 0.05  # how long a join may wait for the reader to let go of the connection
CONFIRM_TIMEOUT = 2.0  # a subscription Redis does not confirm by then counts as storage unavailable
LONGEST_BACKOFF = 2.0


class Hub:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        # Subscription confirmations are read too: ``join`` waits for its own.
        self._pubsub = redis.pubsub()
        self._lock = asyncio.Lock()
        self._sockets: dict[str, set[Deliver]] = defaultdict(set)
        self._reader: asyncio.Task[None] | None = None
        self._healthy = True

    async def start(self) -> None:
        """Start reading; the first subscription is the reader's, so a Redis that is down at start only delays it."""
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
        """Deliver the conversation's events to ``deliver``; subscribed (confirmed by Redis) when this returns."""
        if not self._sockets[conversation_id]:
            channel = keys.conversation_events(conversation_id)
            async with self._lock:
                await self._pubsub.subscribe(channel)
                await self._until_confirmed(channel)
        self._sockets[conversation_id].add(deliver)

    async def leave(self, conversation_id: str, deliver: Deliver) -> None:
        sockets = self._sockets.get(conversation_id)
        if not sockets:
            return
        sockets.discard(deliver)
        if not sockets:
            del self._sockets[conversation_id]
            async with self._lock:
                await self._pubsub.unsubscribe(keys.conversation_events(conversation_id))

    async def _until_confirmed(self, channel: str) -> None:
        """Read until Redis confirms ``channel``; events read meanwhile are delivered as usual."""
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            event = await self._pubsub.get_message(timeout=left)
            if event and event.get("type") == "subscribe" and _text(event["channel"]) == channel:
                return
            await self._dispatch(event)
        raise RedisTimeoutError(f"Redis did not confirm the subscription to {channel} within {CONFIRM_TIMEOUT} s")

    async def _read(self) -> None:
        backoff = 0.1
        subscribed = False
        while True:
            try:
                async with self._lock:
                    if not subscribed:  # something to read from before any socket joined
                        await self._pubsub.subscribe(KEEPALIVE_CHANNEL)
                        subscribed = True
                    event = await self._pubsub.get_message(timeout=READ_SLICE)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self._healthy:
                    log.warning("web chat pub/sub lost its Redis connection (%s); reconnecting", error)
                    self._healthy = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, LONGEST_BACKOFF)
                continue
            if not self._healthy:
                log.warning("web chat pub/sub is connected again")
                self._healthy, backoff = True, 0.1
            if event is None:
                await asyncio.sleep(0)  # let a waiting join take the lock
                continue
            await self._dispatch(event)

    async def _dispatch(self, event: dict[str, Any] | None) -> None:
        if not event or event.get("type") != "message":
            return
        channel = _text(event["channel"])
        prefix = keys.conversation_events("")
        if not channel.startswith(prefix):
            return
        try:
            payload = json.loads(event["data"])
        except ValueError:
            return
        for deliver in list(self._sockets.get(channel[len(prefix):], ())):
            await deliver(payload)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
