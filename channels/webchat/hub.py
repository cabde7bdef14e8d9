"""Fan-out of conversation events to the sockets this process holds.

One Redis pub/sub connection per process, subscribed to the conversations
that have a socket here; a reply published by any process reaches them.

The reader never waits for a socket: ``Deliver`` only queues a frame in the
socket's own bounded outbox (``outbox.py``). An error delivering to one socket
is logged and skipped; a failed pub/sub read is retried on a fresh connection,
subscribed again to every conversation with a socket here; and if the reader task
ends for any reason while the hub is open, it is logged and started again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from conversations import keys, redisio

log = logging.getLogger("gateway.webchat.hub")

# Called on the reader's task: must not block (it queues the frame and returns).
Deliver = Callable[[dict[str, Any]], None]
KEEPALIVE_CHANNEL = f"{keys.PREFIX}:events:hub"
RESTART_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


class Hub:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._sockets: dict[str, set[Deliver]] = defaultdict(set)
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self.restarts = 0  # how often the reader was started again (shown in logs; tests read it)
        self.reconnects = 0  # how often the pub/sub connection was renewed after a failed read

    async def start(self) -> None:
        await self._pubsub.subscribe(KEEPALIVE_CHANNEL)
        self._start_reader()

    def _start_reader(self) -> None:
        self._reader = asyncio.create_task(self._supervise(), name="webchat-hub")
        self._reader.add_done_callback(self._reader_ended)

    def _reader_ended(self, task: asyncio.Task[None]) -> None:
        """Whatever ended the reader (even a stray cancel), an open hub gets a new one."""
        if self._closing:
            return
        error = None if task.cancelled() else task.exception()
        log.error("web chat hub reader stopped (%s); starting it again",
                  "cancelled" if task.cancelled() else repr(error))
        self.restarts += 1
        self._start_reader()

    async def close(self) -> None:
        self._closing = True
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

    async def _renew(self) -> None:
        """A fresh pub/sub connection subscribed to every conversation with a socket here.

        After a lost connection nothing may depend on the client library having
        re-subscribed by itself: a reply published meanwhile would reach nobody.
        The old one is closed first: it may hold a pooled connection the new one
        would otherwise be handed and then lose. If subscribing fails, the next
        read fails too and comes back here.
        """
        try:
            await redisio.aclose(self._pubsub)
        except Exception:
            pass  # the old connection is already broken
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await self._pubsub.subscribe(KEEPALIVE_CHANNEL,
                                         *(keys.conversation_events(c) for c in list(self._sockets)))
        except Exception as error:
            log.warning("pub/sub not back yet: %s", error)
            return
        self.reconnects += 1
        log.warning("pub/sub connection renewed; %d conversations subscribed again", len(self._sockets))

    async def _supervise(self) -> None:
        """Run the reader; an unexpected error restarts it after a short, growing pause."""
        failures = 0
        while True:
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
                log.exception("web chat hub reader failed; restarting in %ss", delay)
                failures += 1
                self.restarts += 1
                await asyncio.sleep(delay)

    async def _read(self) -> None:
        prefix = keys.conversation_events("")
        failures = 0
        while True:
            try:
                event = await self._pubsub.get_message(timeout=1.0)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
                log.exception("pub/sub read failed; reconnecting in %ss", delay)
                failures += 1
                await asyncio.sleep(delay)
                await self._renew()
                continue
            if not event or event.get("type") != "message":
                continue
            channel = event.get("channel")
            if not isinstance(channel, str) or not channel.startswith(prefix):
                continue
            try:
                payload = json.loads(event["data"])
            except (ValueError, TypeError, RecursionError):
                continue
            if not isinstance(payload, dict):
                continue
            for deliver in list(self._sockets.get(channel[len(prefix):], ())):
                try:
                    deliver(payload)
                except Exception:
                    log.exception("delivering to a web chat socket failed; skipped")
