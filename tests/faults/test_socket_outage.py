"""A web chat socket while Redis is away: an ``unavailable`` error frame, never a crash; then it works again."""

from __future__ import annotations

import asyncio

import aiohttp

from gateway.app import create_app
from tests.conftest import make_settings
from tests.faults.servers import RedisNode, aof_args
from tests.support import wait_until


async def receive(ws, kind: str) -> dict:
    async with asyncio.timeout(10):
        while True:
            frame = await ws.receive_json()
            if frame["type"] == kind:
                return frame


async def test_a_socket_gets_unavailable_frames_during_an_outage_and_carries_on(aiohttp_client):
    redis = RedisNode(aof_args("always")).start()
    try:
        client = await aiohttp_client(create_app(make_settings(redis_url=redis.url)))
        ws = await client.ws_connect("/webchat/ws")
        await ws.send_json({"type": "hello", "name": "Ada"})
        welcome = await receive(ws, "welcome")
        await ws.send_json({"type": "message", "client_id": "m1", "text": "before"})
        assert (await receive(ws, "ack"))["client_id"] == "m1"

        await asyncio.to_thread(redis.kill)
        # A message: refused by name, the socket stays open for the resend.
        await ws.send_json({"type": "message", "client_id": "m2", "text": "during"})
        error = await receive(ws, "error")
        assert error["code"] == "unavailable" and error["client_id"] == "m2" and not ws.closed
        # A hello on a new socket cannot be half done: the frame, then close 1013 (try again later).
        other = await client.ws_connect("/webchat/ws")
        await other.send_json({"type": "hello", "visitor_token": welcome["visitor_token"]})
        assert (await receive(other, "error"))["code"] == "unavailable"
        closing = await other.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) and other.close_code == 1013

        await asyncio.to_thread(redis.start)

        ack = await wait_until(_first_ack(ws), timeout=15, what="the resend to be acknowledged")
        assert ack["client_id"] == "m2" and ack["duplicate"] is False
        response = await client.get("/readyz")
        assert response.status == 200
        await ws.close()
    finally:
        redis.stop()


def _first_ack(ws):
    """Resend m2 until it is acknowledged (an ``unavailable`` answer means: not yet)."""

    async def attempt() -> dict | None:
        await ws.send_json({"type": "message", "client_id": "m2", "text": "during"})
        async with asyncio.timeout(10):
            while True:
                frame = await ws.receive_json()
                if frame["type"] == "ack":
                    return frame
                if frame["type"] == "error":
                    return None

    return attempt
