"""Web chat test helpers: a socket that says hello, sends messages and waits for frames of one type."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.webchat.tokens import identifier_hash
from tests.conftest import IDENTITY_SECRET


async def receive(ws, kind: str, timeout: float = 5.0) -> dict:
    """The next frame of ``kind``, skipping others."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive_json()
            if frame["type"] == kind:
                return frame


async def hello(client, **fields: Any) -> tuple[Any, dict]:
    ws = await client.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", **fields})
    return ws, await receive(ws, "welcome")


async def say(ws, client_id: str, text: str) -> dict:
    await ws.send_json({"type": "message", "client_id": client_id, "text": text})
    return await receive(ws, "ack")


def proof(identifier: str) -> dict[str, str]:
    """The hello fields a site's backend gives a logged-in user."""
    return {"identifier": identifier, "identifier_hash": identifier_hash(IDENTITY_SECRET.encode(), identifier)}
