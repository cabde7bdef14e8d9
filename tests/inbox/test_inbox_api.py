"""The inbox's read API, its live socket and its pages, as the inbox page uses them."""

from __future__ import annotations

import json
import logging
from importlib import resources

import aiohttp
import pytest

from conversations.events import ConversationEvent, EventKind
from conversations.models import Channel
from gateway.appkeys import SERVICES
from gateway import inbox_live
from gateway.inbox_live import publisher
from gateway.pages import CONTENT_SECURITY_POLICY
from tests.conftest import admin_headers, start_client
from tests.inbox.conftest import customer_writes
from tests.support import ADMIN_TOKEN


async def listed(client, query: str = "") -> dict:
    response = await client.get(f"/api/inbox{query}", headers=admin_headers())
    assert response.status == 200, await response.text()
    return await response.json()


async def test_live_conversations_come_most_urgent_first_with_queue_counts(inbox):
    relaxed = await customer_writes(inbox, "hello there", number="+15550000001", name="Ada")
    strict = await customer_writes(inbox, "the app is broken", number="+15550000002", name="Bob")
    refund = await customer_writes(inbox, "I want a refund", number="+15550000003")
    data = await listed(inbox)
    # support's 15 minutes beat service's 4 hours; of the two service ones the older deadline comes first
    assert [c["id"] for c in data["conversations"]] == [strict, relaxed, refund]
    first = data["conversations"][0]
    assert first["next_deadline"]["clock"] == "first_response"
    assert 14 * 60 < first["next_deadline"]["seconds_left"] <= 15 * 60
    assert first["customer_name"] == "Bob" and first["tags"] == ["bug"]
    assert data["queues"] == [{"name": "service", "count": 2}, {"name": "support", "count": 1}]
    assert data["facets"] == {"tags": ["billing", "bug"], "channels": ["sms"], "tiers": [1]}
    assert data["total"] == 3


async def test_filters_by_queue_tier_channel_and_tag(inbox):
    sms = await customer_writes(inbox, "hello", number="+15550000001")
    mail = await customer_writes(inbox, "the app is broken", number="+15550000002", channel=Channel.EMAIL)
    refund = await customer_writes(inbox, "refund please", number="+15550000003")
    ids = lambda data: [c["id"] for c in data["conversations"]]  # noqa: E731
    assert ids(await listed(inbox, "?queue=support")) == [mail]
    assert ids(await listed(inbox, "?channel=sms")) == [sms, refund]
    assert ids(await listed(inbox, "?tag=billing")) == [refund]
    assert ids(await listed(inbox, "?tier=2")) == []
    # the queue tabs keep counting every queue while one is picked
    assert (await listed(inbox, "?queue=support"))["queues"] == [{"name": "service", "count": 2},
                                                                  {"name": "support", "count": 1}]
    await inbox.post(f"/api/conversations/{refund}/resolve", json={}, headers=admin_headers())
    assert ids(await listed(inbox, "?tag=billing")) == []
    assert ids(await listed(inbox, "?tag=billing&status=resolved")) == [refund]


@pytest.mark.parametrize("query, reason", [("?channel=fax", "channel must be one of"),
                                           ("?tier=two", "tier must be an integer"),
                                           ("?status=closed", "status must be one of")])
async def test_bad_filters_get_a_reason(inbox, query, reason):
    response = await inbox.get(f"/api/inbox{query}", headers=admin_headers())
    assert response.status == 400 and reason in (await response.json())["error"]


async def test_inbox_api_needs_the_token(inbox):
    for path in ("/api/inbox", "/api/inbox/conversations/x"):
        response = await inbox.get(path, headers={"Authorization": "Bearer wrong"})
        assert response.status == 401


async def test_conversation_view_has_clocks_reply_channels_and_history(inbox):
    services = inbox.app[SERVICES]
    first = await customer_writes(inbox, "the app is broken", number="+15550000002", name="Bob")
    await inbox.post(f"/api/conversations/{first}/resolve", json={}, headers=admin_headers())
    await services.store.redis.hset(f"gw:{{c:{(await services.store.conversation(first)).customer_id}}}:conv:{first}",
                                    "resolved_at", "1")  # far in the past: the next message opens a new one
    conversation_id = await customer_writes(inbox, "still broken", number="+15550000002")
    customer_id = (await services.store.conversation(conversation_id)).customer_id
    link = await inbox.post(f"/api/customers/{customer_id}/identities",
                            json={"channel": "email", "address": "bob@example.com"}, headers=admin_headers())
    assert link.status == 200
    response = await inbox.get(f"/api/inbox/conversations/{conversation_id}", headers=admin_headers())
    assert response.status == 200
    view = await response.json()
    assert [c["clock"] for c in view["clocks"]] == ["first_response", "resolution"]
    assert view["reply_channels"] == ["email", "sms"] and view["default_channel"] == "sms"
    assert view["queues"] == ["service", "support"]
    assert view["routing"]["rule"] == "broken"
    assert [h["id"] for h in view["history"]] == [first]
    assert view["customer"]["name"] == "Bob"
    missing = await inbox.get("/api/inbox/conversations/nope", headers=admin_headers())
    assert missing.status == 404


async def next_frame(ws, kind: str, conversation_id: str | None = None) -> dict:
    while True:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame = json.loads(message.data)
        if frame["type"] != "event":
            return frame
        if frame["event"]["kind"] == kind and conversation_id in (None, frame["event"]["conversation_id"]):
            return frame


async def ticket(client) -> str:
    response = await client.post("/api/inbox/ticket", json={}, headers=admin_headers())
    assert response.status == 201
    body = await response.json()
    assert body["expires_in"] == 30 and body["agent"] is None  # the admin token names no agent
    return body["ticket"]


async def signed_in_socket(client):
    ws = await client.ws_connect("/inbox/live")
    await ws.send_str(json.dumps({"type": "auth", "ticket": await ticket(client)}))
    assert await next_frame(ws, "ready") == {"type": "ready"}
    return ws


async def refused(client, first_frame: str) -> bool:
    async with client.ws_connect("/inbox/live") as ws:
        await ws.send_str(first_frame)
        message = await ws.receive(timeout=5)
        return message.type == aiohttp.WSMsgType.CLOSE and message.data == 4401


async def test_the_live_socket_needs_a_ticket_from_the_api_used_once(inbox):
    no_ticket = await inbox.post("/api/inbox/ticket", json={}, headers={"Authorization": "Bearer wrong"})
    assert no_ticket.status == 401
    assert await refused(inbox, json.dumps({"type": "auth", "ticket": "made-up"}))
    assert await refused(inbox, json.dumps({"type": "auth", "token": ADMIN_TOKEN}))  # the token itself is no ticket
    assert await refused(inbox, "not json")
    good = await ticket(inbox)
    async with inbox.ws_connect("/inbox/live") as ws:
        await ws.send_str(json.dumps({"type": "auth", "ticket": good}))
        assert await next_frame(ws, "ready") == {"type": "ready"}
    assert await refused(inbox, json.dumps({"type": "auth", "ticket": good}))  # used: gone
    expired = await ticket(inbox)
    redis = inbox.app[SERVICES].redis
    [key] = [k async for k in redis.scan_iter("gw:inbox:ticket:*")]
    assert expired not in key and 0 < await redis.ttl(key) <= 30  # a digest, kept 30 seconds
    await redis.delete(key)  # what its expiry does
    assert await refused(inbox, json.dumps({"type": "auth", "ticket": expired}))


@pytest.mark.parametrize("first_frame", ["[" * 4000, '{"type": "auth", "ticket": "\\ud800"}',
                                         '{"type": "auth", "ticket": "' + "é" * 40 + '"}', "\x00" * 10],
                         ids=["nested", "surrogate", "non-ascii", "nul"])
async def test_a_malformed_auth_frame_is_refused_with_a_close_code_never_an_error(inbox, caplog, first_frame):
    """Anyone can open the socket: nested brackets (RecursionError) or a lone surrogate (unhashable) once crashed it."""
    with caplog.at_level(logging.ERROR):
        assert await refused(inbox, first_frame)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_the_live_socket_says_try_again_when_redis_cannot_check_the_ticket(inbox, caplog):
    good = await ticket(inbox)
    inbox.backend.fake_server.connected = False
    try:
        with caplog.at_level(logging.ERROR):
            async with inbox.ws_connect("/inbox/live") as ws:
                await ws.send_str(json.dumps({"type": "auth", "ticket": good}))
                message = await ws.receive(timeout=5)
    finally:
        inbox.backend.fake_server.connected = True
    assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 1013
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_the_live_socket_carries_every_event_of_every_process(inbox):
    async with await signed_in_socket(inbox) as ws:
        conversation_id = await customer_writes(inbox, "the app is broken", number="+15550000002")
        frame = await next_frame(ws, "ingested", conversation_id)
        assert frame["event"]["detail"]["channel"] == "sms"
        await next_frame(ws, "routed", conversation_id)
        # An event published by another process (a worker: here a second bus on the same Redis) arrives too.
        other = inbox.backend.async_client()
        try:
            await publisher(other)(ConversationEvent(EventKind.SLA_WARNING, conversation_id, "c1"))
        finally:
            await other.aclose()
        await next_frame(ws, "sla_warning", conversation_id)


@pytest.mark.parametrize("path", ["/inbox", "/dashboard", "/", "/static/inbox.js", "/static/chart.umd.min.js"])
async def test_pages_send_a_strict_content_security_policy(inbox, path):
    response = await inbox.get(path)
    assert response.status == 200
    policy = response.headers["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_only_the_listed_static_files_are_served(inbox):
    for name in ("../app.py", "chart.js.LICENSE.md", "nope.js"):
        response = await inbox.get(f"/static/{name}")
        assert response.status == 404


async def test_pages_have_no_inline_script_or_style():
    for page in ("index.html", "inbox.html", "dashboard.html"):
        html = resources.files("gateway").joinpath("static", page).read_text()
        assert "<style" not in html and " style=" not in html and " on" + "click=" not in html
        assert all("src=" in tag for tag in html.split("<script")[1:]), page


async def test_a_socket_that_says_nothing_is_closed(inbox, monkeypatch):
    monkeypatch.setattr(inbox_live, "AUTH_TIMEOUT_SECONDS", 0.2)
    async with inbox.ws_connect("/inbox/live") as ws:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 4401


async def test_a_socket_that_falls_behind_is_told_to_reload(inbox):
    feed = inbox.app[inbox_live.INBOX_FEED]
    async with feed.listen() as queue:
        for n in range(inbox_live.QUEUE_SIZE + 1):
            feed._fan_out({"type": "event", "event": {"n": n}})
        assert queue.qsize() == 1 and queue.get_nowait() == {"type": "reload"}


async def test_a_lost_subscription_is_renewed_and_the_sockets_reload(aiohttp_client, real_backend):
    client = await start_client(aiohttp_client, real_backend)
    client.backend = real_backend
    async with await signed_in_socket(client) as ws:
        admin = real_backend.async_client()
        try:
            await admin.client_kill_filter(_type="pubsub")  # every subscriber's connection, ours included
        finally:
            await admin.aclose()
        assert await next_frame(ws, "none") == {"type": "reload"}
        conversation_id = await customer_writes(client, "the app is broken", number="+15550000009")
        await next_frame(ws, "ingested", conversation_id)
