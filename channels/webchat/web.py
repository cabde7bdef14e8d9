"""The web chat socket: hello → welcome, message → ack, delivered, and live messages of the conversation.

Everything after the WebSocket upgrade is answered inside the socket: a refused
frame gets an ``error`` frame (nothing stored), an unexpected failure an
``error`` frame and a close code (1011, or 1013 while Redis is unreachable),
never an HTTP response written into the upgraded connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from importlib import resources
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from channels.deps import CHANNEL_DEPS
from channels.webchat import inbound, keys, protocol, upload
from channels.webchat.appkeys import SETTINGS, TRUSTED_PROXIES
from channels.webchat.identity import Visitor, fresh_visitor, only_anonymous, resolve_visitor
from channels.webchat.inbound import ChatMessage, Delivered, FrameError, Hello, Ping
from channels.webchat.limits import (
    Network,
    NewConversationCap,
    TokenBucket,
    VisitorRate,
    client_address,
    counted_as,
)
from channels.webchat.outbox import Outbox
from channels.webchat.settings import WebchatSettings
from conversations import codec, ratings
from conversations.clock import now_ms, utcnow
from conversations.errors import DomainError, NotFound, storage_unavailable
from conversations.ingest import IngestResult
from conversations.models import Customer, DeliveryStatus, Direction, Identity, Status

log = logging.getLogger("gateway.webchat")

# The open sockets of this process: the gateway closes them (1001, going away) when it stops.
WEBSOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("webchat_sockets", set)
# Open sockets per client address (counted_as) in this process: one address cannot hold thousands.
OPEN_BY_ADDRESS: web.AppKey[dict[str, int]] = web.AppKey("webchat_open_by_address", dict)

HELLO_TIMEOUT = 4008
INTERNAL_ERROR = 1011
TRY_AGAIN_LATER = 1013
ENDED = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)
SHOWN_AS_DELIVERED = (DeliveryStatus.DELIVERED, DeliveryStatus.READ)


class WebchatSocket:
    """One connected visitor. Everything it may see is its own customer's live conversation."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, address: str) -> None:
        """``address``: the client's address (``limits.client_address``), worked out once per upgrade."""
        self.deps = request.app[CHANNEL_DEPS]
        self.settings = settings = request.app[SETTINGS]
        self.ws = ws
        self.outbox = Outbox(ws, request.transport, settings.send_queue_frames)
        self.visitor: Visitor | None = None
        self.limit = TokenBucket(settings.frames_per_second, settings.frame_burst)
        self.visitor_rate = VisitorRate(self.deps.redis, settings.frames_per_second, settings.frame_burst)
        self.cap = NewConversationCap(self.deps.redis, settings.new_conversations_per_address_per_hour)
        self.address = address
        self._held: list[dict[str, Any]] | None = None  # events that arrive while hello is being answered

    def send(self, frame: dict[str, Any]) -> None:
        self.outbox.put(frame)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        hello_deadline = loop.time() + self.settings.hello_timeout_seconds
        try:
            while not self.ws.closed and not self.outbox.closing:
                timeout = None if self.visitor else hello_deadline - loop.time()
                if timeout is not None and timeout <= 0:
                    await self.fail("hello_timeout", "no hello in time", HELLO_TIMEOUT)
                    return
                try:
                    frame = await self.ws.receive(timeout=timeout)
                except TimeoutError:
                    continue
                if frame.type in ENDED:
                    return
                if frame.type == WSMsgType.BINARY:
                    self.send(protocol.error_frame("bad_frame", "frames are JSON text"))
                elif frame.type == WSMsgType.TEXT:
                    await self.on_text(frame.data)
        finally:
            try:
                await self._leave()  # may wait for the hub's pub/sub lock; a cancel there must not skip the next step
            finally:
                await self.outbox.finish()

    async def on_text(self, raw: str) -> None:
        parsed: inbound.Frame | None = None
        try:
            if not self.limit.take():
                raise FrameError("rate_limited", "too many frames; slow down")
            # Parsed before the visitor's shared rate is read: if Redis is away, the error names the message.
            parsed = inbound.parse_frame(raw, max_text=self.settings.max_message_chars)
            if self.visitor and not await self.visitor_rate.take(self.visitor.visitor_id):
                raise FrameError("rate_limited", "too many frames; slow down")
            await self.handle(parsed)
        except FrameError as error:
            self.send(protocol.error_frame(error.code, error.detail))
        except DomainError as error:
            self.send(protocol.error_frame("refused", str(error)))
        except Exception as error:
            if storage_unavailable(error):
                await self.unavailable(parsed, error)
                return
            log.exception("web chat frame failed")
            await self.fail("internal_error", "internal error", INTERNAL_ERROR)

    async def unavailable(self, frame: inbound.Frame | None, error: Exception) -> None:
        """Redis is away (a restart, a failover): nothing was acknowledged, so the client tries again.

        A message keeps the socket: the error names its ``client_id`` and the
        client resends it later (the gateway stores it once). Anything else (a
        hello cannot be half-done) closes the socket with 1013 (try again later)
        and the client reconnects.
        """
        log.warning("web chat frame refused, storage unavailable: %s", error)
        if isinstance(frame, ChatMessage) and self.visitor is not None:
            self.send(protocol.error_frame("unavailable", "storage unavailable, try again shortly",
                                           client_id=frame.client_id))
            return
        await self.fail("unavailable", "storage unavailable, reconnect later", TRY_AGAIN_LATER)

    async def fail(self, code: str, detail: str, close_code: int) -> None:
        self.send(protocol.error_frame(code, detail))
        await self.outbox.close(close_code, detail)

    async def handle(self, frame: inbound.Frame) -> None:
        if isinstance(frame, Ping):
            self.send({"type": "pong"})
        elif isinstance(frame, Hello):
            await self.hello(frame)
        elif isinstance(frame, ChatMessage):
            await self.message(frame)
        elif isinstance(frame, Delivered):
            await self.delivered(frame)

    # -- hello ------------------------------------------------------------------------

    async def hello(self, hello: Hello) -> None:
        if self.visitor is not None:
            raise FrameError("bad_frame", "hello was already sent on this socket")
        identity_secret = self.settings.identity_secret
        secret = self.deps.secret_key
        visitor, token = resolve_visitor(
            hello, secret=secret,
            identity_secret=identity_secret.get_secret_value().encode() if identity_secret else None,
            token_ttl_seconds=self.settings.token_ttl.total_seconds(),
        )
        customer = await self._customer(visitor.identity)
        if customer is not None and not visitor.verified and not only_anonymous(customer):
            # The token's identity now belongs to a known person: the token alone never opens that.
            visitor, token = fresh_visitor(secret, hello.name)
            customer = None
        live = await self.deps.store.live_conversation_id(customer.id) if customer else None
        self._held = []
        try:
            messages: list[dict[str, Any]] = []
            if live:
                visitor.conversation_id = live
                visitor.customer_id = customer.id if customer else None
                await self.deps.hub.join(live, self.on_event)
                messages = await self._visible(live, visitor)
        except BaseException:
            self._held = None
            if live:
                await self.deps.hub.leave(live, self.on_event)
            raise
        self.visitor = visitor
        self.send({"type": "welcome", "visitor_token": token, "conversation_id": visitor.conversation_id,
                   "messages": messages})
        held, self._held = self._held, None
        for payload in held:
            self.on_event(payload)

    async def _customer(self, identity: Identity) -> Customer | None:
        customer_id = await self.deps.store.customer_for(identity)
        if not customer_id:
            return None
        try:
            return await self.deps.store.current_customer(customer_id)
        except NotFound:
            return None  # a claim whose first message never got stored; that visitor's next message heals it

    async def _visible(self, conversation_id: str, visitor: Visitor) -> list[dict[str, Any]]:
        visible = []
        for message in await self.deps.store.messages(conversation_id):
            if not message.visible_to_customer:
                continue
            visitor.forwarded.add(message.id)
            if message.direction == Direction.OUTBOUND and message.delivery not in SHOWN_AS_DELIVERED:
                visitor.awaiting_ack[message.id] = conversation_id
            visible.append(protocol.visible_message(codec.message_json(message), self.file_link))
        return visible

    # -- message ----------------------------------------------------------------------

    async def message(self, chat: ChatMessage) -> None:
        visitor = self.visitor
        if visitor is None:
            raise FrameError("hello_required", "send hello before messages")
        message = inbound.to_inbound(chat, visitor_id=visitor.visitor_id, identity=visitor.identity,
                                     linked=visitor.linked, name=visitor.name, received_at=utcnow())
        reserved = not visitor.verified and await self._opens_conversation(visitor, chat.text)
        if reserved and not await self.cap.reserve(self.address):
            raise FrameError("too_many_conversations",
                             "too many new conversations from this address this hour; try again later")
        visitor.sending.add(message.provider_id)
        # An anonymous visitor's last activity (the retention sweep's clock), in the message's own round trip.
        activity = None if visitor.verified else _anonymous_activity
        try:
            result = await self.deps.service.ingest(message, also=activity)
        except BaseException:
            if reserved:
                await self.cap.release(self.address)
            raise
        finally:
            visitor.sending.discard(message.provider_id)
        if reserved and result.outcome != "opened":
            await self.cap.release(self.address)
        # After a merge the message lives in the surviving conversation: follow it.
        if result.conversation_id != visitor.conversation_id:
            # Joined before it counts as joined: if Redis fails here, the resend joins again.
            await self.deps.hub.join(result.conversation_id, self.on_event)
            if visitor.conversation_id:
                await self.deps.hub.leave(visitor.conversation_id, self.on_event)
            visitor.conversation_id = result.conversation_id
        visitor.customer_id = result.customer_id
        visitor.forwarded.add(result.message_id)
        self.send({"type": "ack", "client_id": chat.client_id, "message_id": result.message_id,
                   "conversation_id": result.conversation_id, "duplicate": result.duplicate})

    async def _opens_conversation(self, visitor: Visitor, text: str) -> bool:
        """Whether this message may open a new conversation (and so counts against the address's cap).

        An answer to the resolved conversation's open survey opens nothing: the cap never refuses it.
        """
        if not visitor.conversation_id:
            return True
        try:
            if visitor.customer_id:  # one round trip; only the cap's guess rides on it (released if wrong)
                conversation = await self.deps.store.conversation_of(visitor.customer_id, visitor.conversation_id)
            else:
                conversation = await self.deps.store.conversation(visitor.conversation_id)
        except NotFound:
            return True
        if conversation.status != Status.RESOLVED:
            return False
        return not (ratings.awaits_rating(conversation.extra, now_ms()) and ratings.parse_rating(text) is not None)

    # -- delivery ---------------------------------------------------------------------

    async def delivered(self, frame: Delivered) -> None:
        """The widget showed an agent's message: now, and only now, it is delivered."""
        visitor = self.visitor
        if visitor is None:
            raise FrameError("hello_required", "send hello first")
        unknown = [i for i in frame.message_ids if i not in visitor.forwarded]
        if unknown:
            raise FrameError("unknown_message", f"no message {unknown[0]!r} was sent on this socket")
        for message_id in frame.message_ids:
            conversation_id = visitor.awaiting_ack.pop(message_id, None)
            if conversation_id is not None:  # else acknowledged already (twice, or the visitor's own message)
                await self.deps.service.record_delivery(conversation_id, message_id, DeliveryStatus.DELIVERED)

    def on_event(self, payload: dict[str, Any]) -> None:
        """Forward what the visitor may see: the customer's own messages, and replies delivered to web chat.

        Runs on the hub's reader: it only queues a frame, never waits for the visitor.
        """
        if self._held is not None:
            self._held.append(payload)
            return
        message = payload.get("message")
        visitor = self.visitor
        if not isinstance(message, dict) or visitor is None:
            return
        kind = payload.get("type")
        if kind == "message" and message.get("direction") != Direction.INBOUND.value:
            return  # outbound messages arrive through delivery; notes and events never
        message_id = message.get("id")
        if not isinstance(message_id, str):
            return
        if message.get("provider_id") in visitor.sending:
            visitor.forwarded.add(message_id)  # the ack that follows shows it
            return
        if kind not in ("message", "deliver") or message_id in visitor.forwarded:
            return
        visitor.forwarded.add(message_id)
        if kind == "deliver":
            conversation_id = payload.get("conversation_id") or visitor.conversation_id
            if isinstance(conversation_id, str):
                visitor.awaiting_ack[message_id] = conversation_id
        self.send({"type": "message", "message": protocol.visible_message(message, self.file_link)})

    def file_link(self, attachment_id: str) -> str:
        """A stored file's signed URL: the visitor opens it without the visitor token."""
        return self.deps.attachments.posted_url(attachment_id, now_ms() // 1000)

    async def _leave(self) -> None:
        if self.visitor and self.visitor.conversation_id:
            await self.deps.hub.leave(self.visitor.conversation_id, self.on_event)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    settings = request.app[SETTINGS]
    open_by_address = request.app[OPEN_BY_ADDRESS]
    trusted: tuple[Network, ...] = request.app[TRUSTED_PROXIES]
    client = client_address(request.remote, request.headers.get("X-Forwarded-For"), trusted)
    address = counted_as(client)
    if settings.sockets_per_address and open_by_address.get(address, 0) >= settings.sockets_per_address:
        # Before the upgrade: a plain HTTP answer, and nothing held for this connection.
        raise web.HTTPTooManyRequests(text="too many open chat sockets from this address",
                                      headers={"Retry-After": "30"})
    open_by_address[address] = open_by_address.get(address, 0) + 1
    try:
        ws = web.WebSocketResponse(heartbeat=settings.heartbeat_seconds, max_msg_size=settings.max_frame_bytes)
        await ws.prepare(request)
        request.app[WEBSOCKETS].add(ws)
        try:
            await WebchatSocket(request, ws, client).run()
        except Exception:
            # Past the upgrade an HTTP error response would be written into the socket as garbage.
            log.exception("web chat socket failed")
            if not ws.closed:
                await ws.close(code=INTERNAL_ERROR, message=b"internal error")
        finally:
            request.app[WEBSOCKETS].discard(ws)
    finally:
        open_by_address[address] -= 1
        if not open_by_address[address]:
            del open_by_address[address]
    return ws


def setup_routes(app: web.Application, settings: WebchatSettings, *, trusted_proxies: Sequence[Network] = ()) -> None:
    app[SETTINGS] = settings
    app[TRUSTED_PROXIES] = tuple(trusted_proxies)
    app[WEBSOCKETS] = set()
    app[OPEN_BY_ADDRESS] = {}
    app.router.add_get("/webchat/ws", websocket)
    app.router.add_get("/webchat/widget.js", widget)
    app.router.add_post(upload.PATH, upload.upload)
    app.router.add_route("OPTIONS", upload.PATH, upload.preflight)
    app.on_shutdown.append(close_sockets)


async def close_sockets(app: web.Application) -> None:
    """On shutdown, before requests in flight are awaited: 1001 "going away", from which the widget reconnects.

    A socket is a request that never ends by itself; closing it here lets the
    drain finish as soon as the real requests in flight have.
    """
    sockets = app[WEBSOCKETS]
    await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server restarting") for ws in list(sockets)),
                         return_exceptions=True)


async def widget(request: web.Request) -> web.FileResponse:
    path = resources.files("channels.webchat").joinpath("static/widget.js")
    return web.FileResponse(str(path), headers={"Content-Type": "application/javascript",
                                                "Cache-Control": "public, max-age=300"})


def _anonymous_activity(result: IngestResult) -> list[tuple[str | int, ...]]:
    if result.duplicate:
        return []
    return [("ZADD", keys.ANONYMOUS_ACTIVITY, now_ms(), result.customer_id)]
