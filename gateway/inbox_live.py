"""Live inbox updates: every domain event on one Redis channel, fanned out to the inbox's WebSockets.

Every process that changes conversations (web, workers, sweeper) publishes its
events on ``gw:events:inbox`` (the listener ``publisher`` is subscribed in
``gateway/runtime.py``), so an agent's page hears of a message a webhook
stored in another web process or a delivery a worker recorded. Each web
process holds one pub/sub connection for all its inbox sockets (``InboxFeed``);
a socket gets a bounded queue, and one that falls behind is told to reload
instead of holding events without limit.

The socket proves itself with its first frame, ``{"type": "auth", "ticket": …}``:
a single-use ticket the page got a moment before from ``POST /api/inbox/ticket``,
a call the admin API's own token check guards (so the socket admits exactly the
tokens the API admits, whichever kinds those are). A browser cannot set an
Authorization header on a WebSocket, and a token in the URL would land in access
logs; until the ticket is redeemed the socket receives nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import asdict

from aiohttp import WSMsgType, web
from redis.asyncio import Redis

from channels.deps import CHANNEL_DEPS
from conversations import redisio
from conversations.events import ConversationEvent, Listener
from gateway import keys
from gateway.appkeys import SERVICES

log = logging.getLogger("gateway.inbox")

CHANNEL = keys.INBOX_EVENTS
AUTH_TIMEOUT_SECONDS = 10.0
TICKET_SECONDS = 30
QUEUE_SIZE = 500  # events a slow socket may lag behind before it is told to reload
RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


def publisher(redis: Redis) -> Listener:
    """A bus listener that publishes each event for the inbox pages of every web process."""

    async def publish(event: ConversationEvent) -> None:
        payload = {**asdict(event), "kind": event.kind.value}
        await redis.publish(CHANNEL, json.dumps(payload))

    return publish


def _ticket_key(ticket: str) -> str:
    # Only a digest is stored: a Redis dump does not hold a ticket anyone could still redeem.
    return keys.inbox_ticket(hashlib.sha256(ticket.encode()).hexdigest())


async def issue_ticket(redis: Redis, agent: str | None) -> str:
    """A ticket for one socket, redeemable once within TICKET_SECONDS; it remembers who asked."""
    ticket = secrets.token_urlsafe(24)
    await redis.set(_ticket_key(ticket), json.dumps({"agent": agent}), ex=TICKET_SECONDS)
    return ticket


async def redeem_ticket(redis: Redis, ticket: str) -> bool:
    # Tickets are URL-safe base64: anything else (a lone surrogate cannot even be hashed) is no ticket.
    if not ticket or len(ticket) > 100 or not ticket.isascii():
        return False
    return await redis.getdel(_ticket_key(ticket)) is not None


class InboxFeed:
    """One pub/sub subscription per process; each inbox socket reads its own bounded queue."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._queues: set[asyncio.Queue[dict[str, object]]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    def start(self) -> None:
        """Starts the reader; never waits for Redis (the gateway may start while Redis is away)."""
        self._reader = asyncio.create_task(self._read_forever(), name="inbox-feed")

    async def subscribed(self, timeout: float) -> bool:
        """Whether the subscription stands (waiting up to ``timeout``): a socket is ready only then."""
        try:
            await asyncio.wait_for(self._subscribed.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        # Not in the middle of subscribing: a cancel there left the shared client's pub/sub
        # connection half set up, and the web chat hub's reader (same client) never stopped.
        await self.subscribed(timeout=1.0)
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[dict[str, object]]]:
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    def _fan_out(self, frame: dict[str, object]) -> None:
        for queue in self._queues:
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                # The socket missed events: it drops its backlog and reloads what it shows.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait({"type": "reload"})

    async def _read_forever(self) -> None:
        failures = 0
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                if failures:
                    self._fan_out({"type": "reload"})  # events published while we were away are lost
                self._subscribed.set()
                failures = 0
                while True:
                    # Short reads: the data client's command timeout (5 s) must not end a quiet wait.
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        event = json.loads(message["data"])
                    except (TypeError, ValueError):
                        log.warning("ignored a malformed inbox event")
                        continue
                    self._fan_out({"type": "event", "event": event})
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a lost connection: renew it, the sockets reload
                self._subscribed.clear()
                delay = RETRY_DELAYS[min(failures, len(RETRY_DELAYS) - 1)]
                failures += 1
                log.warning("inbox feed lost its Redis subscription (%r); again in %.1fs", error, delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(Exception):
                    await redisio.aclose(pubsub)


INBOX_FEED: web.AppKey[InboxFeed] = web.AppKey("inbox_feed", InboxFeed)
INBOX_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("inbox_sockets", set)


async def live(request: web.Request) -> web.WebSocketResponse:
    """``/inbox/live``: the first frame must carry the token; then every conversation event follows."""
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
    await ws.prepare(request)
    request.app[INBOX_SOCKETS].add(ws)
    try:
        return await _serve(request, ws)
    finally:
        request.app[INBOX_SOCKETS].discard(ws)


async def _serve(request: web.Request, ws: web.WebSocketResponse) -> web.WebSocketResponse:
    try:
        first = await ws.receive(timeout=AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        await ws.close(code=4401, message=b"auth frame expected")
        return ws
    ticket = ""
    if first.type == WSMsgType.TEXT:
        # RecursionError: a frame of thousands of nested brackets, from anyone who can open the socket.
        with contextlib.suppress(ValueError, AttributeError, RecursionError):
            frame = json.loads(first.data)
            if isinstance(frame, dict) and frame.get("type") == "auth" and isinstance(frame.get("ticket"), str):
                ticket = frame["ticket"]
    try:
        redeemed = await redeem_ticket(request.app[SERVICES].redis, ticket)
    except Exception as error:  # Redis is away: a close code, never an HTTP answer inside the upgraded socket
        log.warning("inbox socket refused: its ticket could not be checked: %s", str(error) or type(error).__name__)
        await ws.close(code=1013, message=b"live updates unavailable, try again later")
        return ws
    if not redeemed:
        await ws.close(code=4401, message=b"missing, used or expired ticket")
        return ws
    feed = request.app[INBOX_FEED]
    if not await feed.subscribed(timeout=5.0):
        await ws.close(code=1013, message=b"live updates unavailable, try again later")  # Redis is away
        return ws
    async with feed.listen() as queue:
        await ws.send_json({"type": "ready"})
        forward = asyncio.create_task(_forward(ws, queue))
        try:
            async for message in ws:  # the page sends nothing more; reading notices the close
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forward
    return ws


async def _forward(ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, object]]) -> None:
    while not ws.closed:
        frame = await queue.get()
        try:
            await ws.send_json(frame)
        except (ConnectionError, RuntimeError):
            return


def setup(app: web.Application) -> None:
    """The socket route and the feed; call after the lifecycle that builds the services (it reads their Redis)."""

    async def feed(app: web.Application) -> AsyncIterator[None]:
        # The web chat hub's subscriber client: on a Redis Cluster a plain connection to one node
        # (classic pub/sub reaches every node), elsewhere the data client.
        inbox_feed = InboxFeed(app[CHANNEL_DEPS].hub.redis)
        inbox_feed.start()
        # A moment for the subscription, not a condition: Redis may be away at start-up.
        await inbox_feed.subscribed(timeout=1.0)
        app[INBOX_FEED] = inbox_feed
        yield
        open_sockets = app[INBOX_SOCKETS]
        for ws in list(open_sockets):
            await ws.close(code=1001, message=b"server shutting down")
        await inbox_feed.close()

    sockets: set[web.WebSocketResponse] = set()
    app[INBOX_SOCKETS] = sockets
    app.cleanup_ctx.append(feed)
    app.router.add_get("/inbox/live", live)
