"""Malformed frames and failures inside the socket: an error frame, nothing stored, never an HTTP answer.

Regression tests for issue 10 items 6 and 11: on the code before, a lone UTF-16
surrogate claimed the identity and then failed in the ingest script, after which
every hello with that token got a 404 HTTP response written into the upgraded
socket; 3,000 nested ``[`` raised RecursionError (a 500 inside the socket).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiohttp import WSMsgType

from conversations import keys
from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from tests.webchat.chat import hello, receive, say


async def stored_keys(client) -> list[str]:
    """Every key of the conversation store (rate-limit budgets aside)."""
    redis = client.app[SERVICES].redis
    return sorted(k for k in await redis.keys("gw:*") if not k.startswith("gw:webchat:rate:"))


async def closed(ws) -> int | None:
    async with asyncio.timeout(5):
        while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
            pass
    return ws.close_code


@pytest.mark.parametrize("frame", [
    '{"type": "message", "client_id": "c-1", "text": "hello \\ud800"}',
    '{"type": "message", "client_id": "c-\\udfff", "text": "hello"}',
])
async def test_lone_surrogate_is_refused_before_anything_is_written(gateway, frame):
    ws, welcome = await hello(gateway)
    before = await stored_keys(gateway)
    await ws.send_str(frame)
    error = await receive(ws, "error")
    assert error["code"] == "bad_frame" and "surrogate" in error["detail"]
    assert await stored_keys(gateway) == before
    # The identity is not locked out: the same token says hello and writes again.
    again, welcome2 = await hello(gateway, visitor_token=welcome["visitor_token"])
    ack = await say(again, "c-2", "hello again")
    assert not ack["duplicate"]


async def test_surrogate_in_hello_fields_is_refused(gateway):
    ws = await gateway.ws_connect("/webchat/ws")
    await ws.send_str('{"type": "hello", "name": "Ada \\ud83d"}')
    assert (await receive(ws, "error"))["code"] == "bad_frame"
    assert await stored_keys(gateway) == []


async def test_a_failed_first_ingest_leaves_no_claimed_identity(gateway):
    """The store's own guard: whatever fails after the claim (here the text cannot be encoded), it is undone."""
    store = gateway.app[SERVICES].store
    identity = Identity(Channel.WEBCHAT, "visitor:abc")
    with pytest.raises(UnicodeEncodeError):
        await store.ingest(InboundMessage(channel=Channel.WEBCHAT, identity=identity, provider_id="abc:1",
                                          text="bad \ud800", received_at=datetime.now(UTC)))
    assert await store.customer_for(identity) is None
    assert await stored_keys(gateway) == []


async def test_an_orphan_claim_heals_on_the_next_message(gateway):
    """A claim left by a crash before this fix (or a process killed mid-ingest) does not lock anyone out."""
    ws, welcome = await hello(gateway)
    visitor_id = welcome["visitor_token"].split(".")[1]
    redis = gateway.app[SERVICES].redis
    await redis.set(keys.identity(f"webchat:visitor:{visitor_id}"), "cus_never_created")
    again, welcome2 = await hello(gateway, visitor_token=welcome["visitor_token"])
    assert welcome2["conversation_id"] is None
    ack = await say(again, "c-1", "still here")
    store = gateway.app[SERVICES].store
    assert (await store.conversation(ack["conversation_id"])).customer_id == "cus_never_created"


async def test_deeply_nested_frame_is_a_clear_error(gateway):
    ws, _ = await hello(gateway)
    await ws.send_str("[" * 3000 + "]" * 3000)
    assert (await receive(ws, "error"))["code"] == "bad_frame"
    await ws.send_str('{"type": "message", "client_id": "c", "text": "x", "extra": ' + "[" * 3000 + "]" * 3000 + "}")
    assert (await receive(ws, "error"))["code"] == "bad_frame"
    await ws.send_json({"type": "ping"})
    await receive(ws, "pong")
    assert [k for k in await stored_keys(gateway) if ":msgs:" in k] == []


async def test_storage_failure_after_the_upgrade_is_an_error_frame_and_a_close_code(gateway):
    ws = await gateway.ws_connect("/webchat/ws")
    gateway.backend.fake_server.connected = False  # Redis goes away
    try:
        await ws.send_json({"type": "hello"})
        error = await receive(ws, "error")
        assert error["code"] == "unavailable"
        assert await closed(ws) == 1013
    finally:
        gateway.backend.fake_server.connected = True


async def test_unknown_delivered_ids_are_refused(gateway):
    ws, _ = await hello(gateway)
    await ws.send_json({"type": "delivered", "message_ids": ["msg_of_someone_else"]})
    assert (await receive(ws, "error"))["code"] == "unknown_message"
    await ws.send_json({"type": "delivered", "message_ids": []})
    assert (await receive(ws, "error"))["code"] == "bad_frame"
