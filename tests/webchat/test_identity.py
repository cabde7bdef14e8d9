"""Who a web chat socket is: a verified identity is proven on every hello, and a token never merges people.

Regression tests for issue 10 items 1 and 7: on the code before, a hello with only the
visitor token of a verified visitor received that customer's whole conversation; the
same token with another verified identifier merged two real customers; and after a
first-message merge the socket was acked on the folded conversation while agent
replies went by email.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from channels.webchat import tokens
from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from gateway.settings import Settings
from tests.attachments import files
from tests.conftest import admin_headers, make_settings, start_client
from tests.webchat.chat import hello, proof, receive, say

ADA, BOB = "ada@example.com", "bob@example.com"


async def customer_of(client, conversation_id: str):
    store = client.app[SERVICES].store
    return await store.customer((await store.conversation(conversation_id)).customer_id)


async def test_token_alone_never_opens_a_verified_customers_conversation(gateway):
    ws, welcome = await hello(gateway, **proof(ADA))
    ack = await say(ws, "c-1", "my card ends in 4242")
    # Someone who got hold of the token (shared computer, logged out, copied localStorage).
    again, anonymous = await hello(gateway, visitor_token=welcome["visitor_token"])
    assert anonymous["conversation_id"] is None and anonymous["messages"] == []
    other = await say(again, "c-2", "who am I?")
    assert other["conversation_id"] != ack["conversation_id"]
    assert (await customer_of(gateway, other["conversation_id"])).id != (await customer_of(gateway, ack["conversation_id"])).id
    # Proven again, the same person sees their conversation.
    _, back = await hello(gateway, visitor_token=welcome["visitor_token"], **proof(ADA))
    assert back["conversation_id"] == ack["conversation_id"]
    assert [m["text"] for m in back["messages"]] == ["my card ends in 4242"]


async def test_one_token_with_two_identifiers_keeps_two_customers(gateway):
    ws, welcome = await hello(gateway, **proof(ADA))
    ada = await say(ws, "a-1", "Ada's secret")
    bob_ws, bob_welcome = await hello(gateway, visitor_token=welcome["visitor_token"], **proof(BOB))
    assert bob_welcome["conversation_id"] is None and bob_welcome["messages"] == []
    bob = await say(bob_ws, "b-1", "Bob here")
    assert bob["conversation_id"] != ada["conversation_id"]
    ada_customer = await customer_of(gateway, ada["conversation_id"])
    bob_customer = await customer_of(gateway, bob["conversation_id"])
    assert ada_customer.id != bob_customer.id
    assert not ada_customer.merged_into and not bob_customer.merged_into
    assert "email:bob@example.com" not in {i.key for i in ada_customer.identities}
    assert "email:ada@example.com" not in {i.key for i in bob_customer.identities}
    store = gateway.app[SERVICES].store
    assert await store.customer_for_key("email:ada@example.com") == ada_customer.id
    assert await store.customer_for_key("email:bob@example.com") == bob_customer.id
    # Ada's next visit shows only Ada's messages.
    _, again = await hello(gateway, visitor_token=welcome["visitor_token"], **proof(ADA))
    assert [m["text"] for m in again["messages"]] == ["Ada's secret"]


async def test_logging_out_shows_only_the_anonymous_session(gateway):
    ws, welcome = await hello(gateway)
    await say(ws, "c-1", "before logging in")
    token = welcome["visitor_token"]
    verified_ws, verified = await hello(gateway, visitor_token=token, **proof(ADA))
    assert verified["messages"] == []  # the anonymous session is not merged into Ada either
    await say(verified_ws, "c-2", "logged in as Ada")
    _, logged_out = await hello(gateway, visitor_token=token)
    assert [m["text"] for m in logged_out["messages"]] == ["before logging in"]


async def test_an_expired_token_is_refused_and_a_fresh_one_is_issued(aiohttp_client, fake_backend):
    fake_backend.settings = make_settings(webchat={"identity_secret": "s", "token_ttl": 3600})
    client = await start_client(aiohttp_client, fake_backend)
    secret = fake_backend.settings.secret_key.get_secret_value().encode()
    ws = await client.ws_connect("/webchat/ws")
    stale = tokens.issue_token(secret, "visitor-1", issued_at=int(time.time()) - 3601)
    await ws.send_json({"type": "hello", "visitor_token": stale})
    assert (await receive(ws, "error"))["code"] == "token_expired"
    # Within its lifetime the token is accepted and renewed (a returning visitor keeps their session).
    recent = tokens.issue_token(secret, "visitor-1", issued_at=int(time.time()) - 3000)
    await ws.send_json({"type": "hello", "visitor_token": recent})
    welcome = await receive(ws, "welcome")
    assert tokens.visitor_from_token(secret, welcome["visitor_token"], ttl_seconds=3600) == "visitor-1"
    assert welcome["visitor_token"] != recent


async def test_a_token_without_an_issue_time_is_refused(gateway):
    # The format before tokens expired: v1.<id>.<HMAC of the id>, valid forever.
    digest = hmac.new(b"test-secret-key", b"webchat-visitor:visitor-1", hashlib.sha256).digest()
    old_style = "v1.visitor-1." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    ws = await gateway.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello", "visitor_token": old_style})
    assert (await receive(ws, "error"))["code"] == "token_expired"


async def test_after_a_first_message_merge_the_socket_follows_the_surviving_conversation(gateway):
    service = gateway.app[SERVICES].service
    email = await service.ingest(InboundMessage(
        channel=Channel.EMAIL, identity=Identity(Channel.EMAIL, ADA), provider_id="<m1@example.com>",
        text="Where is my parcel?", received_at=datetime.now(UTC), name="Ada"))
    ws, _ = await hello(gateway, **proof(ADA))
    ack = await say(ws, "c-1", "Writing from the site now")
    assert ack["conversation_id"] == email.conversation_id
    conversation = await gateway.app[SERVICES].store.conversation(email.conversation_id)
    assert conversation.last_inbound_channel == Channel.WEBCHAT
    response = await gateway.post(f"/api/conversations/{ack['conversation_id']}/messages",
                                  json={"text": "It left the depot", "author": "Grace"}, headers=admin_headers())
    assert response.status == 201
    assert (await response.json())["message"]["channel"] == "webchat"
    await gateway.backend.drain_async()
    assert (await receive(ws, "message"))["message"]["text"] == "It left the depot"


@pytest.mark.parametrize(("field", "value", "codes"), [
    ("visitor_token", "v1.abc.ü", {"invalid_token", "token_expired"}),  # the old format's compare_digest raised
    ("visitor_token", "v2.abc.1.ü", {"invalid_token"}),
    ("identifier_hash", "é" * 64, {"identity_unverified"}),
])
async def test_non_ascii_token_or_hash_is_a_clear_error(gateway, field, value, codes):
    """Issue 10 item 11: hmac.compare_digest raised TypeError on non-ASCII strings (a 500 inside the socket)."""
    ws = await gateway.ws_connect("/webchat/ws")
    frame = {"type": "hello", field: value}
    if field == "identifier_hash":
        frame["identifier"] = ADA
    await ws.send_json(frame)
    assert (await receive(ws, "error"))["code"] in codes
    await ws.send_json({"type": "ping"})
    assert (await receive(ws, "pong"))["type"] == "pong"


async def test_tokens_live_thirty_days_unless_configured_otherwise(aiohttp_client, fake_backend):
    """The default lifetime, as a visitor meets it: 29 days unused still opens the session, 31 days does not."""
    assert Settings(_env_file=None).webchat.token_ttl == timedelta(days=30)
    fake_backend.settings = make_settings(webchat={"identity_secret": "s"})
    client = await start_client(aiohttp_client, fake_backend)
    secret = fake_backend.settings.secret_key.get_secret_value().encode()
    day = 24 * 3600
    ws = await client.ws_connect("/webchat/ws")
    await ws.send_json({"type": "hello",
                        "visitor_token": tokens.issue_token(secret, "visitor-9", issued_at=int(time.time()) - 31 * day)})
    assert (await receive(ws, "error"))["code"] == "token_expired"
    await ws.send_json({"type": "hello",
                        "visitor_token": tokens.issue_token(secret, "visitor-9", issued_at=int(time.time()) - 29 * day)})
    assert (await receive(ws, "welcome"))["visitor_token"]


async def test_a_token_whose_visitor_an_admin_linked_to_a_known_customer_opens_a_fresh_session(gateway):
    """After the admin's explicit link the anonymous visitor is a known person: the token alone shows nothing."""
    ws, welcome = await hello(gateway)
    ack = await say(ws, "c-1", "my order number is 4411")
    customer = await customer_of(gateway, ack["conversation_id"])
    response = await gateway.post(f"/api/customers/{customer.id}/identities",
                                  json={"channel": "sms", "address": "+15551230001"}, headers=admin_headers())
    assert response.status == 200, await response.text()

    again, fresh = await hello(gateway, visitor_token=welcome["visitor_token"])
    assert fresh["conversation_id"] is None and fresh["messages"] == []
    assert fresh["visitor_token"].split(".")[1] != welcome["visitor_token"].split(".")[1]  # another visitor
    other = await say(again, "c-2", "who am I?")
    assert (await customer_of(gateway, other["conversation_id"])).id != customer.id
    # Nor does an upload with the old token reach the linked customer's conversation.
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("visitor_token", welcome["visitor_token"])
    form.add_field("client_id", "up-1")
    form.add_field("file", files.png(), filename="screen.png", content_type="image/png")
    upload = await gateway.post("/webchat/upload", data=form)
    assert upload.status == 401 and "no longer opens" in await upload.text()
    store = gateway.app[SERVICES].store
    assert [m.text for m in await store.messages(ack["conversation_id"]) if m.direction == "inbound"] == [
        "my order number is 4411"]
