"""Visitors attach files: POST /webchat/upload with the visitor token; the socket shows it; bad input stores nothing."""

from __future__ import annotations

import aiohttp
import pytest

from gateway.appkeys import SERVICES
from tests.attachments import files
from tests.attachments.test_views import opens
from tests.conftest import admin_headers
from tests.webchat.chat import hello, proof, receive, say


def upload_form(token: str | None, client_id: str | None = "up-1", file: tuple[str, bytes, str] | None = None,
                **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    if token is not None:
        data.add_field("visitor_token", token)
    if client_id is not None:
        data.add_field("client_id", client_id)
    for name, value in fields.items():
        data.add_field(name, value)
    if file is not None:
        data.add_field("file", file[1], filename=file[0], content_type=file[2])
    return data


def stored_files(client) -> list[str]:
    return sorted(p.name for p in client.app[SERVICES].attachments.store.root.rglob("att_*") if not p.name.endswith(".json"))


async def test_an_uploaded_image_reaches_the_conversation_and_the_visitors_socket(gateway):
    ws, welcome = await hello(gateway)
    await say(ws, "c1", "My screen looks wrong")
    response = await gateway.post("/webchat/upload", data=upload_form(
        welcome["visitor_token"], "c2", ("screen.png", files.png(), "image/png"), text="see this"))
    assert response.status == 201, await response.text()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    answer = await response.json()
    assert answer["attachment"]["content_type"] == "image/png" and not answer["duplicate"]
    assert await opens(gateway, answer["attachment"]["url"]) == files.png()
    frame = await receive(ws, "message")
    assert frame["message"]["id"] == answer["message_id"] and frame["message"]["text"] == "see this"
    [shown] = frame["message"]["attachments"]
    assert shown["name"] == "screen.png" and await opens(gateway, shown["url"]) == files.png()

    messages = await gateway.app[SERVICES].store.messages(answer["conversation_id"])
    assert [len(m.attachments) for m in messages if m.direction == "inbound"] == [0, 1]
    # The same upload again (the widget retried): one message, one file.
    again = await gateway.post("/webchat/upload", data=upload_form(
        welcome["visitor_token"], "c2", ("screen.png", files.png(), "image/png"), text="see this"))
    assert (await again.json())["duplicate"] is True
    assert len(stored_files(gateway)) == 1
    await ws.close()


async def test_a_verified_visitor_uploads_into_their_own_conversation(gateway):
    ws, welcome = await hello(gateway, **proof("ada@customer.example"))
    response = await gateway.post("/webchat/upload", data=upload_form(
        welcome["visitor_token"], "v1", ("order.pdf", files.pdf(), "application/pdf"), **proof("ada@customer.example")))
    assert response.status == 201, await response.text()
    conversation = await gateway.app[SERVICES].store.conversation((await response.json())["conversation_id"])
    customer = await gateway.app[SERVICES].store.customer(conversation.customer_id)
    assert "webchat:user:ada@customer.example" in {i.key for i in customer.identities}
    await ws.close()


@pytest.mark.parametrize(("token", "client_id", "file", "fields", "status", "reason"), [
    (None, "x1", ("a.png", files.png(), "image/png"), {}, 401, "visitor_token is required"),
    ("v2.forged.1700000000.AAAA", "x1", ("a.png", files.png(), "image/png"), {}, 401, "not valid"),
    ("GOOD", "x1", ("cv.docx", b"PK\x03\x04" + b"\0" * 100, "image/png"), {}, 415, "not accepted on webchat"),
    ("GOOD", "x1", ("a.pdf", files.exe(), "application/pdf"), {}, 415, "x-msdownload files are not accepted"),
    ("GOOD", "x1", ("big.png", files.png() + b"\0" * (6 * 1024 * 1024), "image/png"), {}, 413, "larger than"),
    ("GOOD", None, ("a.png", files.png(), "image/png"), {}, 400, "client_id is required"),
    ("GOOD", "x1", None, {}, 400, "exactly one file"),
    ("GOOD", "x1", ("a.png", files.png(), "image/png"), {"admin": "1"}, 400, "unknown field"),
    ("GOOD", "x1", ("a.png", files.png(), "image/png"), {"identifier": "ada@customer.example",
                                                          "identifier_hash": "00" * 32}, 403, "does not match"),
])
async def test_bad_uploads_get_a_clear_error_and_store_nothing(gateway, token, client_id, file, fields, status, reason):
    ws, welcome = await hello(gateway)
    token = welcome["visitor_token"] if token == "GOOD" else token
    response = await gateway.post("/webchat/upload", data=upload_form(token, client_id, file, **fields))
    assert response.status == status, await response.text()
    assert reason in (await response.json())["error"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # the widget can read why
    assert stored_files(gateway) == []
    assert await gateway.app[SERVICES].store.recent_conversation_ids(limit=5) == []
    await ws.close()


async def test_an_agents_file_reaches_the_widget_as_a_link(gateway):
    ws, welcome = await hello(gateway)
    ack = await say(ws, "c1", "Please send the manual")
    response = await gateway.post(f"/api/conversations/{ack['conversation_id']}/messages", headers=admin_headers(),
                                  data=upload_form(None, None, ("manual.pdf", files.pdf(), "application/pdf")))
    assert response.status == 201, await response.text()
    await gateway.backend.drain_async()
    frame = await receive(ws, "message")
    [link] = frame["message"]["attachments"]
    assert link["name"] == "manual.pdf" and await opens(gateway, link["url"]) == files.pdf()
    await ws.close()


async def test_anonymous_uploads_count_against_the_new_conversation_cap(aiohttp_client):
    import fakeredis

    from tests.conftest import Backend, make_settings, start_client

    backend = Backend(make_settings(webchat={"identity_secret": "x", "new_conversations_per_address_per_hour": 1}),
                      fakeredis.FakeServer())
    client = await start_client(aiohttp_client, backend)
    first, welcome_a = await hello(client)
    second, welcome_b = await hello(client)
    opened = await client.post("/webchat/upload", data=upload_form(
        welcome_a["visitor_token"], "a1", ("a.png", files.png(), "image/png")))
    assert opened.status == 201
    refused = await client.post("/webchat/upload", data=upload_form(
        welcome_b["visitor_token"], "b1", ("b.png", files.png(), "image/png")))
    assert refused.status == 429 and "too many new conversations" in (await refused.json())["error"]
    assert len(stored_files(client)) == 1
    await first.close()
    await second.close()
