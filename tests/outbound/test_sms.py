"""Proactive SMS through the official twilio client and the Twilio fake; the answer lands in context."""

from __future__ import annotations

import json
import logging

import fakeredis
import pytest

from gateway.appkeys import SERVICES
from tests.conftest import Backend, admin_headers, start_client
from tests.outbound.conftest import rule_files
from tests.sms.conftest import fake_twilio, inbound_form, post_signed, sms_settings  # noqa: F401  (a fixture)
from tests.support import raw_request, redis_snapshot
from workers import context

CUSTOMER = "+14155550100"
NOTICE = {"template": "order-delayed", "variables": {"order": "A-17", "eta": "Friday"}, "author": "Grace"}


@pytest.fixture
async def gateway(aiohttp_client, fake_twilio, tmp_path):
    backend = Backend(sms_settings(fake_twilio, **rule_files(tmp_path)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    yield client
    context.install(None)


async def outbound(client, **body):
    return await client.post("/api/outbound", json=body, headers=admin_headers())


async def texts(client, body: str, sid: str) -> None:
    response = await post_signed(client, "/sms/twilio", inbound_form(sid=sid, sender=CUSTOMER, body=body))
    assert response.status == 200


async def test_we_text_first_and_the_answer_lands_in_that_conversation_routed_by_the_rules(gateway, fake_twilio):
    response = await outbound(gateway, identity={"channel": "sms", "address": "(415) 555-0100"}, **NOTICE)
    assert response.status == 201, await response.text()
    sent = await response.json()
    assert sent["opened"] is True and sent["channel"] == "sms"
    await gateway.backend.drain_async()
    assert [(f["To"], f["Body"]) for f in fake_twilio.sent] == [
        (CUSTOMER, "Hi there, order A-17 is delayed; new delivery date Friday. Reply here with questions.")]

    store = gateway.app[SERVICES].store
    conversation = await store.conversation(sent["conversation_id"])
    assert (conversation.status, conversation.queue) == ("pending", "service")  # the default queue
    [message] = await store.messages(sent["conversation_id"])
    assert (message.id, message.author) == (sent["message_id"], "Grace")  # the 201's message, by its author
    assert conversation.first_response_at is None  # writing first is not answering

    await texts(gateway, "Thanks, but the last one arrived broken", "SM" + "2" * 32)
    assert await store.recent_conversation_ids(limit=10) == [sent["conversation_id"]]
    conversation = await store.conversation(sent["conversation_id"])
    assert (conversation.status, conversation.queue, conversation.rule) == ("open", "support", "broken-things")
    timeline = [(m.direction.value, m.kind or m.text) for m in await store.messages(sent["conversation_id"])]
    assert timeline == [
        ("outbound", "Hi there, order A-17 is delayed; new delivery date Friday. Reply here with questions."),
        ("inbound", "Thanks, but the last one arrived broken"),
        ("event", "routed"),
    ]

    again = await outbound(gateway, customer_id=sent["customer_id"], text="A courier is on the way.")
    assert again.status == 201
    assert (await again.json())["conversation_id"] == sent["conversation_id"]  # continued, not a new one
    await texts(gateway, "great", "SM" + "3" * 32)
    assert (await store.conversation(sent["conversation_id"])).queue == "support"  # routed once, not again


async def test_an_opted_out_number_is_refused_with_409_and_nothing_is_stored(gateway, fake_twilio):
    await texts(gateway, "STOP", "SM" + "4" * 32)
    before = redis_snapshot(gateway.backend.sync_client())
    response = await outbound(gateway, identity={"channel": "sms", "address": CUSTOMER}, text="Sale today!")
    assert response.status == 409
    assert f"not sent: {CUSTOMER} opted out of SMS" in (await response.json())["error"]
    assert redis_snapshot(gateway.backend.sync_client()) == before
    await gateway.backend.drain_async()
    assert fake_twilio.sent == []


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({"text": "hi"}, 400, "either customer_id or identity"),
    ({"customer_id": "c1", "identity": {"channel": "sms", "address": CUSTOMER}, "text": "hi"}, 400,
     "either customer_id or identity"),
    ({"identity": {"channel": "sms", "address": CUSTOMER}}, 400, "either text or template"),
    ({"identity": {"channel": "sms", "address": CUSTOMER}, "text": "hi", "queue": "sales"}, 400, "unknown queue"),
    ({"identity": {"channel": "sms", "address": CUSTOMER}, "template": "nope"}, 404, "no template 'nope'"),
    ({"identity": {"channel": "sms", "address": CUSTOMER}, "template": "order-delayed"}, 400, "needs {order}"),
    ({"identity": {"channel": "sms", "address": "not a number"}, "text": "hi"}, 400, "not a phone number"),
    ({"identity": {"channel": "email", "address": "a@b.example"}, "text": "hi"}, 400, "no email sender"),
    ({"identity": {"channel": "sms", "address": CUSTOMER}, "channel": "email", "text": "hi"}, 400,
     "no email sender"),
    ({"customer_id": "cus_nobody", "text": "hi"}, 404, "no customer"),
])
async def test_bad_requests_are_refused_and_change_nothing(gateway, fake_twilio, body, status, reason):
    before = redis_snapshot(gateway.backend.sync_client())
    response = await outbound(gateway, **body)
    assert response.status == status, await response.text()
    assert reason in await response.text()
    assert redis_snapshot(gateway.backend.sync_client()) == before
    await gateway.backend.drain_async()
    assert fake_twilio.sent == []


async def test_the_default_channel_is_the_preferred_one_then_the_last_one(gateway, fake_twilio):
    await texts(gateway, "hello", "SM" + "5" * 32)
    store = gateway.app[SERVICES].store
    [conversation_id] = await store.recent_conversation_ids(limit=10)
    customer_id = (await store.conversation(conversation_id)).customer_id
    linked = await gateway.post(f"/api/customers/{customer_id}/identities", headers=admin_headers(),
                                json={"channel": "email", "address": "ada@customer.example"})
    assert linked.status == 200
    patched = await gateway.patch(f"/api/customers/{customer_id}", headers=admin_headers(),
                                  json={"attributes": {"preferred_channel": "email"}})
    assert patched.status == 200
    preferred = await outbound(gateway, customer_id=customer_id, text="hi")
    assert preferred.status == 400 and "no email sender" in await preferred.text()  # email chosen: no sender here
    no_address = await outbound(gateway, customer_id=customer_id, channel="webchat", text="hi")
    assert no_address.status == 400 and "has no webchat address" in await no_address.text()
    await gateway.patch(f"/api/customers/{customer_id}", headers=admin_headers(), json={"attributes": {}})
    last = await outbound(gateway, customer_id=customer_id, text="hi")
    assert last.status == 201 and (await last.json())["channel"] == "sms"


async def test_a_retried_request_with_the_same_idempotency_key_sends_once(gateway, fake_twilio):
    body = {"identity": {"channel": "sms", "address": CUSTOMER}, "text": "Your parcel is on its way."}
    headers = {**admin_headers(), "Idempotency-Key": "notice-42"}
    first = await gateway.post("/api/outbound", json=body, headers=headers)
    again = await gateway.post("/api/outbound", json=body, headers=headers)
    assert (first.status, again.status) == (201, 201)
    assert await first.json() == await again.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await gateway.post("/api/outbound", json=body, headers={**admin_headers(), "Idempotency-Key": "43"})
    assert other.status == 201
    await gateway.backend.drain_async()
    assert len(fake_twilio.sent) == 2


async def test_a_refused_request_frees_its_idempotency_key(gateway, fake_twilio):
    headers = {**admin_headers(), "Idempotency-Key": "k1"}
    refused = await gateway.post("/api/outbound", headers=headers, json={
        "identity": {"channel": "sms", "address": CUSTOMER}, "template": "order-delayed"})
    assert refused.status == 400
    fixed = await gateway.post("/api/outbound", headers=headers, json={
        "identity": {"channel": "sms", "address": CUSTOMER}, "template": "order-delayed",
        "variables": {"order": "1", "eta": "today"}})
    assert fixed.status == 201


async def test_a_notice_opens_in_the_queue_it_names(gateway, fake_twilio):
    response = await outbound(gateway, identity={"channel": "sms", "address": CUSTOMER}, text="Your ticket is open.",
                              queue="support")
    assert response.status == 201, await response.text()
    sent = await response.json()
    assert set(sent) >= {"conversation_id", "message_id"}
    conversation = await gateway.app[SERVICES].store.conversation(sent["conversation_id"])
    assert conversation.queue == "support"
    [message] = await gateway.app[SERVICES].store.messages(sent["conversation_id"])
    assert (message.id, message.author) == (sent["message_id"], "admin")  # author defaults to admin


async def test_an_idempotency_key_of_bytes_that_are_not_utf8_is_a_key_like_any_other(gateway, fake_twilio, caplog):
    """Such a key could not be hashed: a 500 before anything was sent; now any value is a key (docs/OUTBOUND.md)."""
    body = json.dumps({"identity": {"channel": "sms", "address": CUSTOMER}, "text": "Your parcel is late."}).encode()
    head = (b"POST /api/outbound HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-admin-token\r\n"
            b"Content-Type: application/json\r\nIdempotency-Key: order-\xff-17\r\n")
    with caplog.at_level(logging.ERROR):
        first, first_body = await raw_request(gateway, head, body)
        again, again_body = await raw_request(gateway, head, body)
    assert (first, again) == (201, 201), (first_body, again_body)
    assert first_body == again_body
    await gateway.backend.drain_async()
    assert len(fake_twilio.sent) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
