"""One slow or dead socket never silences the others, and "delivered" means a visitor's socket acknowledged it.

Regression tests for issue 10 item 2: on the code before, the hub awaited each
socket's send in turn, so a visitor that stopped reading blocked every other
visitor's replies; the reader died silently on a socket error; and a reply
published to any process counted as delivered.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import struct
import time

from channels.webchat.outbound import WebchatSender
from channels.deps import CHANNEL_DEPS
from channels.webchat.web import WEBSOCKETS
from conversations.messages import OutboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from tests.conftest import admin_headers, make_settings, start_client
from tests.support import wait_until
from tests.webchat.chat import hello, receive, say


class StalledVisitor:
    """A WebSocket client that says hello, sends one message, then never reads again.

    A raw socket with a tiny receive buffer, so the server's writes back up after a few kB.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, host: str, port: int) -> StalledVisitor:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2048)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write((f"GET /webchat/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                      f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def send(self, frame: dict) -> None:
        payload = json.dumps(frame).encode()
        mask = os.urandom(4)
        length = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | length]) if length < 126 else bytes([0x80 | 126]) + struct.pack("!H", length))
        self.writer.write(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        await self.writer.drain()

    def close(self) -> None:
        self.writer.transport.abort()


async def test_a_visitor_who_stops_reading_never_delays_another(aiohttp_client, fake_backend):
    fake_backend.settings = make_settings(webchat={"identity_secret": "s", "send_queue_frames": 8})
    client = await start_client(aiohttp_client, fake_backend)
    deps = client.app[CHANNEL_DEPS]
    stalled = await StalledVisitor.connect(client.server.host, client.server.port)
    await stalled.send({"type": "hello"})
    await stalled.send({"type": "message", "client_id": "s-1", "text": "I will not read your answers"})
    store = client.app[SERVICES].store
    stalled_conversation = (await wait_until(lambda: store.recent_conversation_ids(limit=1), what="the message"))[0]

    ada, _ = await hello(client, name="Ada")
    ada_ack = await say(ada, "a-1", "hello")

    # Flood the stalled visitor's conversation with large replies: far more than its buffers hold.
    sender = WebchatSender(deps.redis)
    for n in range(40):
        await sender.send(OutboundMessage(message_id=f"msg_big_{n}", conversation_id=stalled_conversation,
                                          channel=Channel.WEBCHAT, to=Identity(Channel.WEBCHAT, "visitor:x"),
                                          text="x" * 100_000, author="Grace"))
    started = time.monotonic()
    await sender.send(OutboundMessage(message_id="msg_for_ada", conversation_id=ada_ack["conversation_id"],
                                      channel=Channel.WEBCHAT, to=Identity(Channel.WEBCHAT, "visitor:y"),
                                      text="Ada's answer", author="Grace"))
    frame = await receive(ada, "message", timeout=3)
    assert frame["message"]["text"] == "Ada's answer"
    assert time.monotonic() - started < 1.0
    # The stalled socket was closed for being too far behind; Ada's is still open.
    await wait_until(lambda: len(client.app[WEBSOCKETS]) == 1, timeout=10, what="the slow socket to be closed")
    assert not ada.closed
    stalled.close()


async def test_the_hub_reader_is_restarted_if_it_dies(gateway, caplog):
    hub = gateway.app[CHANNEL_DEPS].hub
    ws, _ = await hello(gateway)
    ack = await say(ws, "c-1", "hello")
    with caplog.at_level(logging.ERROR, logger="gateway.webchat.hub"):
        hub._reader.cancel()  # the reader task ends, as any unexpected death would end it
        await wait_until(lambda: hub.restarts == 1, what="the reader to restart")
    assert "starting it again" in caplog.text
    await gateway.post(f"/api/conversations/{ack['conversation_id']}/messages", json={"text": "still here"},
                       headers=admin_headers())
    await gateway.backend.drain_async()
    assert (await receive(ws, "message"))["message"]["text"] == "still here"


async def test_the_hub_survives_losing_its_redis_connection(aiohttp_client, real_backend, caplog):
    """A real redis-server drops the hub's pub/sub connection (as a restart or failover would)."""
    client = await start_client(aiohttp_client, real_backend)
    ws, _ = await hello(client)
    ack = await say(ws, "c-1", "hello")
    redis = client.app[SERVICES].redis
    with caplog.at_level(logging.WARNING, logger="gateway.webchat.hub"):
        assert await redis.client_kill_filter(_type="pubsub") >= 1
        await wait_until(lambda: "pub/sub lost its Redis connection" in caplog.text, what="the reader to notice")
    hub = client.app[CHANNEL_DEPS].hub
    await wait_until(lambda: hub.reconnects >= 1, what="a new pub/sub connection")
    # Published while no connection listened, a reply would wait for the next welcome (it stays "sent").
    assert await _subscribed(redis, f"gw:events:conv:{ack['conversation_id']}")
    await client.post(f"/api/conversations/{ack['conversation_id']}/messages", json={"text": "after the drop"},
                      headers=admin_headers())
    await real_backend.drain_async()
    assert (await receive(ws, "message"))["message"]["text"] == "after the drop"


async def _subscribed(redis, channel: str) -> bool:
    return dict(await redis.pubsub_numsub(channel)).get(channel, 0) >= 1


async def test_a_reply_nobody_acknowledged_stays_sent_and_comes_with_the_next_welcome(gateway):
    ws, welcome = await hello(gateway)
    ack = await say(ws, "c-1", "hello")
    await ws.close()
    await gateway.post(f"/api/conversations/{ack['conversation_id']}/messages", json={"text": "while you were away"},
                       headers=admin_headers())
    await gateway.backend.drain_async()
    store = gateway.app[SERVICES].store
    reply = [m for m in await store.messages(ack["conversation_id"]) if m.direction == "outbound"][0]
    assert reply.delivery == "sent"
    again, welcome2 = await hello(gateway, visitor_token=welcome["visitor_token"])
    assert [m["text"] for m in welcome2["messages"]] == ["hello", "while you were away"]
    await again.send_json({"type": "delivered", "message_ids": [reply.id]})

    async def delivered() -> bool:
        return [m.delivery for m in await store.messages(ack["conversation_id"]) if m.direction == "outbound"] == [
            "delivered"]

    await wait_until(delivered, what="the acknowledged reply to be delivered")


async def test_a_visitor_who_drops_mid_delivery_never_stops_the_others(aiohttp_client, fake_backend, caplog):
    """The visitor goes away while replies are still being written to it: only its own socket ends."""
    fake_backend.settings = make_settings(webchat={"identity_secret": "s", "send_queue_frames": 64})
    client = await start_client(aiohttp_client, fake_backend)
    deps = client.app[CHANNEL_DEPS]
    store = client.app[SERVICES].store
    dropping = await StalledVisitor.connect(client.server.host, client.server.port)
    await dropping.send({"type": "hello"})
    await dropping.send({"type": "message", "client_id": "d-1", "text": "bye soon"})
    dropping_conversation = (await wait_until(lambda: store.recent_conversation_ids(limit=1), what="the message"))[0]
    ada, _ = await hello(client, name="Ada")
    ada_ack = await say(ada, "a-1", "hello")
    sender = WebchatSender(deps.redis)
    to = Identity(Channel.WEBCHAT, "visitor:x")
    with caplog.at_level(logging.WARNING):
        for n in range(10):  # within its queue: the socket is not cut for being slow, its writer is mid-send
            await sender.send(OutboundMessage(message_id=f"msg_drop_{n}", conversation_id=dropping_conversation,
                                              channel=Channel.WEBCHAT, to=to, text="y" * 50_000, author="Grace"))
        dropping.close()  # the connection resets under the writer
        for n in range(3):
            await sender.send(OutboundMessage(message_id=f"msg_ada_{n}", conversation_id=ada_ack["conversation_id"],
                                              channel=Channel.WEBCHAT, to=to, text=f"answer {n}", author="Grace"))
            assert (await receive(ada, "message", timeout=3))["message"]["text"] == f"answer {n}"
        await wait_until(lambda: len(client.app[WEBSOCKETS]) == 1, timeout=10, what="the dropped socket to go")
    assert deps.hub.restarts == 0 and deps.hub.reconnects == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
