"""Fan-out of conversation events to the sockets this process holds.

One Redis pub/sub connection per process, subscribed to the conversations
that have a socket here; a reply published by any process reaches them.

The reader never waits for a socket: ``Deliver`` only queues a frame in the
socket's own bounded outbox (``outbox.py``), and an error delivering to one
socket is logged and skipped.

The connection is used by one coroutine at a time (a lock): the reader waits
for events in short slices, and a socket that joins subscribes between two
slices and waits for Redis to confirm, so whatever is published after ``join``
returns reaches it. (Two coroutines on one pub/sub connection break when Redis
restarts: both read the reconnection's answers.)

When Redis goes away the reader logs it once and retries with a bounded
back-off on a fresh connection subscribed again to every conversation with a
socket here (nothing depends on the client library re-subscribing by itself),
and logs once when it is back. If the reader task ends for any reason while the
hub is open, it is logged and started again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from channels.webchat import keys as webchat_keys
from conversations import keys, redisio

log = logging.getLogger("gateway.webchat.hub")

# Called on the reader's task: must not block (it queues the frame and returns).
Deliver = Callable[[dict[str, Any]], None]
KEEPALIVE_CHANNEL = webchat_keys.HUB_KEEPALIVE
READ_SLICE = 0.05  # how long a join may wait for the reader to let go of the connection
CONFIRM_TIMEOUT = 2.0  # a subscription Redis does not confirm by then counts as storage unavailable
FIRST_BACKOFF = 0.1
LONGEST_BACKOFF = 2.0
RESTART_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


class Hub:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        # Subscription confirmations are read too: ``join`` waits for its own.
        self._pubsub = redis.pubsub()
        self._lock = asyncio.Lock()
        self._sockets: dict[str, set[Deliver]] = defaultdict(set)
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._healthy = True
        self.restarts = 0  # how often the reader was started again (shown in logs; tests read it)
        self.reconnects = 0  # how often the pub/sub connection was renewed after a failed read

    async def start(self) -> None:
        """Start reading; the first subscription is the reader's, so a Redis that is down at start only delays it."""
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
            self._dispatch(event)
        raise RedisTimeoutError(f"Redis did not confirm the subscription to {channel} within {CONFIRM_TIMEOUT} s")

    async def _renew(self) -> None:
        """A fresh pub/sub connection subscribed to every conversation with a socket here.

        The old one is closed first: it may hold a pooled connection the new one
        would otherwise be handed and then lose. If subscribing fails, the next
        read fails too and comes back here.
        """
        try:
            await redisio.aclose(self._pubsub)
        except Exception:
            pass  # the old connection is already broken
        self._pubsub = self.redis.pubsub()
        await self._pubsub.subscribe(KEEPALIVE_CHANNEL, *(keys.conversation_events(c) for c in list(self._sockets)))
        self.reconnects += 1

    async def _supervise(self) -> None:
        """Run the reader; an unexpected error restarts it after a short, growing pause."""
        failures = 0
        while not self._closing:
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
        backoff = FIRST_BACKOFF
        subscribed = False
        # The flag as well as the cancel: redis-py's read can swallow a cancellation that lands inside it.
        while not self._closing:
            try:
                async with self._lock:
                    if not subscribed:  # a fresh connection, or something to read from before any socket joined
                        if self._healthy and self.reconnects == 0 and not self._sockets:
                            await self._pubsub.subscribe(KEEPALIVE_CHANNEL)
                        else:
                            await self._renew()
                        subscribed = True
                    event = await self._pubsub.get_message(timeout=READ_SLICE)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self._healthy:
                    log.warning("web chat pub/sub lost its Redis connection (%s); reconnecting", error)
                    self._healthy = False
                subscribed = False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, LONGEST_BACKOFF)
                continue
            if not self._healthy:
                log.warning("web chat pub/sub is connected again; %d conversations subscribed again",
                            len(self._sockets))
                self._healthy, backoff = True, FIRST_BACKOFF
            if event is None:
                await asyncio.sleep(0)  # let a waiting join take the lock
                continue
            self._dispatch(event)

    def _dispatch(self, event: dict[str, Any] | None) -> None:
        if not event or event.get("type") != "message":
            return
        channel = _text(event.get("channel", ""))
        prefix = keys.conversation_events("")
        if not channel.startswith(prefix):
            return
        try:
            payload = json.loads(event["data"])
        except (ValueError, TypeError, RecursionError):
            return
        if not isinstance(payload, dict):
            return
        for deliver in list(self._sockets.get(channel[len(prefix):], ())):
            try:
                deliver(payload)
            except Exception:
                log.exception("delivering to a web chat socket failed; skipped")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
