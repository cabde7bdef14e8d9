"""The web chat protocol over a real WebSocket, with the admin API as the agent."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import WSMsgType

from channels.webchat.tokens import identifier_hash, issue_token
from gateway.appkeys import SERVICES, SETTINGS
from tests.conftest import IDENTITY_SECRET, admin_headers, start_client
from tests.support import wait_until
from tests.webchat.chat import hello, receive, say


async def test_first_message_opens_a_conversation_the_admin_api_shows(gateway):
    ws, welcome = await hello(gateway, name="Ada")
    assert welcome["conversation_id"] is None and welcome["messages"] == []
    ack = await say(ws, "c-1", "Hello, I need help with my invoice")
    response = await gateway.get(f"/api/conversations/{ack['conversation_id']}", headers=admin_headers())
    view = await response.json()
    assert response.status == 200
    inbound = [m for m in view["messages"] if m["direction"] == "inbound"]
    assert [m["text"] for m in inbound] == ["Hello, I need help with my invoice"]
    assert inbound[0]["id"] == ack["message_id"]
    assert view["customer"]["name"] == "Ada"
    assert view["conversation"]["queue"] == "service"


async def test_same_client_id_twice_stores_one_message(gateway):
    ws, _ = await hello(gateway)
    first = await say(ws, "c-1", "hi")
    second = await say(ws, "c-1", "hi")
    assert second["message_id"] == first["message_id"] and second["duplicate"] is True
    messages = await gateway.app[SERVICES].store.messages(first["conversation_id"])
    assert [m.text for m in messages if m.direction == "inbound"] == ["hi"]


async def test_reply_reaches_only_the_visitor_it_is_for(aiohttp_client, backend):
    client = await start_client(aiohttp_client, backend)
    ada, _ = await hello(client, name="Ada")
    bob, _ = await hello(client, name="Bob")
    ada_ack = await say(ada, "a-1", "Ada here")
    bob_ack = await say(bob, "b-1", "Bob here")
    assert ada_ack["conversation_id"] != bob_ack["conversation_id"]

    response = await client.post(f"/api/conversations/{ada_ack['conversation_id']}/messages",
                                 json={"text": "Hi Ada, on it", "author": "Grace"}, headers=admin_headers())
    assert response.status == 201
    await backend.drain_async()

    frame = await receive(ada, "message")
    assert frame["message"]["text"] == "Hi Ada, on it" and frame["message"]["author"] == "Grace"
    assert frame["message"]["direction"] == "outbound"
    with pytest.raises(TimeoutError):
        await receive(bob, "message", timeout=0.3)
    store = client.app[SERVICES].store

    async def reply_status():
        return [m for m in await store.messages(ada_ack["conversation_id"]) if m.direction == "outbound"][0].delivery

    # Published to a socket is "sent"; the visitor's acknowledgement makes it "delivered".
    assert await reply_status() == "sent"
    await ada.send_json({"type": "delivered", "message_ids": [frame["message"]["id"]]})
    await wait_until(lambda: _is(reply_status(), "delivered"), what="the reply to be delivered")


async def _is(status, expected: str) -> bool:
    return await status == expected


async def test_note_never_reaches_the_visitor(gateway):
    ws, _ = await hello(gateway)
    ack = await say(ws, "c-1", "hello")
    base = f"/api/conversations/{ack['conversation_id']}"
    note_text = "internal: VIP, be nice"
    noted = await gateway.post(f"{base}/messages", json={"text": note_text, "kind": "note", "author": "Grace"},
                               headers=admin_headers())
    assert 200 <= noted.status < 300, await noted.text()
    note = (await noted.json())["message"]
    answered = await gateway.post(f"{base}/messages", json={"text": "public answer"}, headers=admin_headers())
    assert 200 <= answered.status < 300, await answered.text()
    await gateway.backend.drain_async()

    # Stored, and shown to agents as a note.
    view = await (await gateway.get(base, headers=admin_headers())).json()
    notes = [m for m in view["messages"] if m["direction"] == "note"]
    assert [(m["id"], m["text"], m["author"]) for m in notes] == [(note["id"], note_text, "Grace")]

    # The visitor's next frame is the public answer: the note, stored and published before it, was
    # not forwarded. A ping's pong then closes everything the socket was sent meanwhile.
    frame = await asyncio.wait_for(ws.receive_json(), timeout=5)
    assert frame["type"] == "message" and frame["message"]["text"] == "public answer"
    await ws.send_json({"type": "ping"})
    frames = [frame]
    async with asyncio.timeout(5):
        while frames[-1]["type"] != "pong":
            frames.append(await ws.receive_json())
    assert not [f for f in frames if note_text in json.dumps(f) or note["id"] in json.dumps(f)]
    assert [f["message"]["text"] for f in frames if f["type"] == "message"] == ["public answer"]


async def test_reload_with_token_continues_the_conversation(gateway):
    ws, welcome = await hello(gateway)
    ack = await say(ws, "c-1", "first visit")
    await ws.close()
    again, welcome2 = await hello(gateway, visitor_token=welcome["visitor_token"])
    assert welcome2["conversation_id"] == ack["conversation_id"]
    assert [m["text"] for m in welcome2["messages"]] == ["first visit"]


async def test_forged_token_is_refused_and_stores_nothing(gateway):
    ws = await gateway.ws_connect("/webchat/ws")
    forged = issue_token(b"not-the-gateway-key", "someone-else")
    await ws.send_json({"type": "hello", "visitor_token": forged})
    error = await receive(ws, "error")
    assert error["code"] == "invalid_token"
    await ws.send_json({"type": "message", "client_id": "x", "text": "let me in"})
    assert (await receive(ws, "error"))["code"] == "hello_required"
    assert await gateway.app[SERVICES].store.recent_conversation_ids(limit=10) == []


async def test_tampered_token_of_another_visitor_is_refused(gateway):
    ws, welcome = await hello(gateway)
    await say(ws, "c-1", "mine")
    version, visitor_id, issued, signature = welcome["visitor_token"].split(".")
    attacker = await gateway.ws_connect("/webchat/ws")
    await attacker.send_json({"type": "hello", "visitor_token": f"{version}.{visitor_id}x.{issued}.{signature}"})
    assert (await receive(attacker, "error"))["code"] == "invalid_token"
    # Nor can the issue time be moved to make an old token young again.
    await attacker.send_json({"type": "hello", "visitor_token": f"{version}.{visitor_id}.{int(issued) + 1}.{signature}"})
    assert (await receive(attacker, "error"))["code"] == "invalid_token"


async def test_verified_identifier_links_to_the_email_customer(gateway):
    runtime = gateway.app[SERVICES]
    digest = identifier_hash(IDENTITY_SECRET.encode(), "ada@example.com")
    ws, _ = await hello(gateway, identifier="ada@example.com", identifier_hash=digest)
    ack = await say(ws, "c-1", "hello from the site")
    customer_id = await runtime.store.customer_for_key("email:ada@example.com")
    assert customer_id == (await runtime.store.conversation(ack["conversation_id"])).customer_id


async def test_unverified_identifier_is_refused(gateway):
    ws = await gateway.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "identifier": "ada@example.com", "identifier_hash": "00" * 32})
    assert (await receive(ws, "error"))["code"] == "identity_unverified"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json", "bad_frame"),
        ('{"type": "launch"}', "unknown_type"),
        ('{"type": "message", "client_id": "a"}', "bad_frame"),
        ('{"type": "message", "client_id": "a", "text": "' + "x" * 4001 + '"}', "message_too_long"),
    ],
)
async def test_bad_frames_get_a_clear_error(gateway, frame, code):
    ws, _ = await hello(gateway)
    await ws.send_str(frame)
    assert (await receive(ws, "error"))["code"] == code


async def test_flooding_a_socket_is_rate_limited(gateway):
    ws, _ = await hello(gateway)
    for n in range(30):
        await ws.send_json({"type": "ping"})
    codes = []
    async with asyncio.timeout(5):
        while len(codes) < 30:
            frame = await ws.receive_json()
            codes.append(frame.get("code", frame["type"]))
    assert "rate_limited" in codes and "pong" in codes


async def test_oversized_frame_closes_with_1009(gateway):
    ws, _ = await hello(gateway)
    await ws.send_str("x" * (gateway.app[SETTINGS].webchat.max_frame_bytes + 10))
    async with asyncio.timeout(5):
        while (await ws.receive()).type not in (WSMsgType.CLOSE, WSMsgType.CLOSED):
            pass
    assert ws.close_code == 1009


async def test_reply_through_one_process_reaches_a_socket_held_by_another(aiohttp_client, real_backend):
    """Two web processes on one Redis: the visitor is on A, the agent answers through B."""
    process_a = await start_client(aiohttp_client, real_backend)
    process_b = await start_client(aiohttp_client, real_backend)
    ws, _ = await hello(process_a, name="Ada")
    ack = await say(ws, "a-1", "hello from process A")
    response = await process_b.post(f"/api/conversations/{ack['conversation_id']}/messages",
                                    json={"text": "answered via B", "author": "Grace"}, headers=admin_headers())
    assert response.status == 201
    await real_backend.drain_async()
    assert (await receive(ws, "message"))["message"]["text"] == "answered via B"
