"""The web chat socket: hello → welcome, message → ack, and live messages of the conversation."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from channels.deps import CHANNEL_DEPS
from channels.webchat import inbound, protocol, tokens
from channels.webchat.inbound import ChatMessage, FrameError, Hello, Ping
from channels.webchat.settings import WebchatSettings
from conversations import codec
from conversations.clock import utcnow
from conversations.models import Channel, Direction, Identity

log = logging.getLogger("gateway.webchat")

SETTINGS: web.AppKey[WebchatSettings] = web.AppKey("webchat_settings", WebchatSettings)
# The open sockets of this process: the gateway closes them (1001, going away) when it stops.
WEBSOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("webchat_sockets", set)


class TokenBucket:
    """Frames per second per socket, with a burst allowance."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class Visitor:
    """What one socket has proven: its visitor id and, maybe, a verified identifier."""

    visitor_id: str
    identity: Identity
    linked: tuple[Identity, ...]
    name: str | None
    conversation_id: str | None = None
    forwarded: set[str] = field(default_factory=set)
    # Provider ids of this socket's own messages being stored: their pub/sub echo can arrive before
    # the ingest returns (and before the ack), and must not show the visitor their message twice.
    sending: set[str] = field(default_factory=set)


def resolve_visitor(hello: Hello, *, secret: bytes, identity_secret: bytes | None) -> tuple[Visitor, str]:
    """Check a hello's token and identity claims; returns the visitor and its (new) token."""
    if hello.visitor_token:
        visitor_id = tokens.visitor_from_token(secret, hello.visitor_token)
        if visitor_id is None:
            raise FrameError("invalid_token", "the visitor token is not valid; start again without one")
        token = hello.visitor_token
    else:
        visitor_id = tokens.new_visitor_id()
        token = tokens.issue_token(secret, visitor_id)
    anonymous = Identity(Channel.WEBCHAT, f"visitor:{visitor_id}")
    if hello.identifier is None:
        if hello.identifier_hash:
            raise FrameError("identity_unverified", "identifier_hash without identifier")
        return Visitor(visitor_id, anonymous, (), hello.name), token
    if identity_secret is None:
        raise FrameError("identity_unverified", "identity verification is not configured on this gateway")
    if not hello.identifier_hash or not tokens.identifier_verified(identity_secret, hello.identifier,
                                                                 hello.identifier_hash):
        raise FrameError("identity_unverified", "identifier_hash does not match the identifier")
    verified = Identity(Channel.WEBCHAT, f"user:{hello.identifier}")
    linked = [anonymous]
    if protocol.looks_like_email(hello.identifier):
        linked.append(Identity(Channel.EMAIL, hello.identifier.strip().lower()))
    return Visitor(visitor_id, verified, tuple(linked), hello.name), token


class WebchatSocket:
    """One connected visitor. Everything it may see is its own customer's live conversation."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse) -> None:
        self.deps = request.app[CHANNEL_DEPS]
        self.settings = request.app[SETTINGS]
        self.ws = ws
        self.visitor: Visitor | None = None
        self.limit = TokenBucket(self.settings.frames_per_second, self.settings.frame_burst)

    async def send(self, frame: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_json(frame)

    async def run(self) -> None:
        try:
            async for frame in self.ws:
                if frame.type != WSMsgType.TEXT:
                    if frame.type == WSMsgType.BINARY:
                        await self.send(protocol.error_frame("bad_frame", "frames are JSON text"))
                    continue
                if not self.limit.take():
                    await self.send(protocol.error_frame("rate_limited", "too many frames; slow down"))
                    continue
                try:
                    await self.handle(inbound.parse_frame(frame.data, max_text=self.settings.max_message_chars))
                except FrameError as error:
                    await self.send(protocol.error_frame(error.code, error.detail))
        finally:
            await self._leave()

    async def handle(self, frame: inbound.Frame) -> None:
        if isinstance(frame, Ping):
            await self.send({"type": "pong"})
        elif isinstance(frame, Hello):
            await self.hello(frame)
        elif isinstance(frame, ChatMessage):
            await self.message(frame)

    async def hello(self, hello: Hello) -> None:
        if self.visitor is not None:
            raise FrameError("bad_frame", "hello was already sent on this socket")
        identity_secret = self.settings.identity_secret
        visitor, token = resolve_visitor(
            hello, secret=self.deps.secret_key,
            identity_secret=identity_secret.get_secret_value().encode() if identity_secret else None,
        )
        store = self.deps.store
        customer_id = await store.customer_for(visitor.identity)
        messages: list[dict[str, Any]] = []
        if customer_id:
            customer = await store.current_customer(customer_id)
            live = await store.live_conversation_id(customer.id)
            if live:
                visitor.conversation_id = live
                messages = [protocol.visible_message(codec.message_json(m)) for m in await store.messages(live)
                            if m.visible_to_customer]
        self.visitor = visitor
        if visitor.conversation_id:
            await self.deps.hub.join(visitor.conversation_id, self.on_event)
        await self.send({"type": "welcome", "visitor_token": token, "conversation_id": visitor.conversation_id,
                         "messages": messages})

    async def message(self, chat: ChatMessage) -> None:
        visitor = self.visitor
        if visitor is None:
            raise FrameError("hello_required", "send hello before messages")
        message = inbound.to_inbound(chat, visitor_id=visitor.visitor_id, identity=visitor.identity,
                                     linked=visitor.linked, name=visitor.name, received_at=utcnow())
        visitor.sending.add(message.provider_id)
        try:
            result = await self.deps.service.ingest(message)
        finally:
            visitor.sending.discard(message.provider_id)
        if result.conversation_id != visitor.conversation_id:
            if visitor.conversation_id:
                await self.deps.hub.leave(visitor.conversation_id, self.on_event)
            visitor.conversation_id = result.conversation_id
            await self.deps.hub.join(result.conversation_id, self.on_event)
        visitor.forwarded.add(result.message_id)
        await self.send({"type": "ack", "client_id": chat.client_id, "message_id": result.message_id,
                         "conversation_id": result.conversation_id, "duplicate": result.duplicate})

    async def on_event(self, payload: dict[str, Any]) -> None:
        """Forward what the visitor may see: the customer's own messages, and replies delivered to web chat."""
        message = payload.get("message")
        if not isinstance(message, dict) or self.visitor is None:
            return
        if payload.get("type") == "message" and message.get("direction") != Direction.INBOUND.value:
            return  # outbound messages arrive through delivery; notes and events never
        if message.get("provider_id") in self.visitor.sending:
            self.visitor.forwarded.add(str(message.get("id")))  # the ack that follows shows it
            return
        if payload.get("type") not in ("message", "deliver") or message.get("id") in self.visitor.forwarded:
            return
        self.visitor.forwarded.add(message["id"])
        await self.send({"type": "message", "message": protocol.visible_message(message)})

    async def _leave(self) -> None:
        if self.visitor and self.visitor.conversation_id:
            await self.deps.hub.leave(self.visitor.conversation_id, self.on_event)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    settings = request.app[SETTINGS]
    ws = web.WebSocketResponse(heartbeat=settings.heartbeat_seconds, max_msg_size=settings.max_frame_bytes)
    await ws.prepare(request)
    request.app[WEBSOCKETS].add(ws)
    try:
        await WebchatSocket(request, ws).run()
    finally:
        request.app[WEBSOCKETS].discard(ws)
    return ws


def setup_routes(app: web.Application, settings: WebchatSettings) -> None:
    app[SETTINGS] = settings
    app[WEBSOCKETS] = set()
    app.router.add_get("/webchat/ws", websocket)
    app.router.add_get("/webchat/widget.js", widget)
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

