"""Proactive email through real SMTP (aiosmtpd), and proactive web chat over the socket."""

from __future__ import annotations

import pytest

from gateway.appkeys import SERVICES
from tests.conftest import admin_headers, make_settings, start_client
from tests.email.conftest import SUPPORT, customer_mail, email_gateway, email_settings, sink, smtp_send  # noqa: F401
from tests.outbound.conftest import rule_files
from tests.support import wait_until
from tests.webchat.chat import hello, receive, say
from workers import context


@pytest.fixture
async def mail_gateway(aiohttp_client, sink, tmp_path):  # noqa: F811  (sink is a fixture)
    client = await email_gateway(aiohttp_client, email_settings(sink.port, **rule_files(tmp_path)))
    yield client
    context.install(None)


async def test_we_mail_first_and_the_customers_answer_lands_in_that_conversation(mail_gateway, sink):
    response = await mail_gateway.post("/api/outbound", headers=admin_headers(), json={
        "identity": {"channel": "email", "address": "Ada@Customer.example"}, "template": "order-delayed",
        "variables": {"order": "A-17", "eta": "Friday"}, "author": "Grace"})
    assert response.status == 201, await response.text()
    sent = await response.json()
    await mail_gateway.backend.drain_async()

    [received] = sink.to("ada@customer.example")
    assert received["Subject"] == "Your order A-17 is delayed"  # the template's subject, no "Re:"
    assert received["In-Reply-To"] is None
    assert received["Reply-To"].startswith(f"support+{sent['conversation_id']}-")
    assert received.text().strip() == ("Hello there,\n\nwe are sorry: your order A-17 is delayed. The new delivery "
                                       "date is Friday.\nJust answer this email if anything is unclear.\n\nGrace")

    answer = customer_mail("It arrived broken, actually.\n\n> we are sorry", subject="Re: Your order A-17 is delayed",
                           to=received["Reply-To"], in_reply_to=received["Message-ID"])
    await smtp_send(mail_gateway, answer, recipients=[received["Reply-To"]])
    store = mail_gateway.app[SERVICES].store
    assert await store.recent_conversation_ids(limit=10) == [sent["conversation_id"]]
    conversation = await store.conversation(sent["conversation_id"])
    assert (conversation.status, conversation.queue) == ("open", "support")
    inbound = [m.text for m in await store.messages(sent["conversation_id"]) if m.direction == "inbound"]
    assert inbound == ["It arrived broken, actually."]


@pytest.fixture
async def chat_gateway(aiohttp_client, fake_backend, tmp_path):
    fake_backend.settings = make_settings(**rule_files(tmp_path))
    fake_backend.configure_jobs()
    client = await start_client(aiohttp_client, fake_backend)
    client.backend = fake_backend
    return client


async def test_a_visitor_with_a_live_conversation_gets_it_on_the_open_socket(chat_gateway):
    ws, _ = await hello(chat_gateway, name="Ada Lovelace")
    ack = await say(ws, "c-1", "Hello?")
    customer_id = (await chat_gateway.app[SERVICES].store.conversation(ack["conversation_id"])).customer_id
    response = await chat_gateway.post("/api/outbound", headers=admin_headers(), json={
        "customer_id": customer_id, "template": "greeting", "author": "Grace"})
    assert response.status == 201
    sent = await response.json()
    assert (sent["conversation_id"], sent["channel"], sent["opened"]) == (ack["conversation_id"], "webchat", False)
    await chat_gateway.backend.drain_async()
    frame = await receive(ws, "message")
    assert frame["message"]["text"] == "Hi Ada, this is Grace. How can I help?"


async def test_a_visitor_whose_conversation_was_resolved_finds_the_new_one_and_answers_in_it(chat_gateway):
    ws, welcome = await hello(chat_gateway, name="Ada Lovelace")
    ack = await say(ws, "c-1", "Thanks, all good")
    store = chat_gateway.app[SERVICES].store
    customer_id = (await store.conversation(ack["conversation_id"])).customer_id
    resolved = await chat_gateway.post(f"/api/conversations/{ack['conversation_id']}/resolve", json={},
                                       headers=admin_headers())
    assert resolved.status == 200
    await ws.close()

    response = await chat_gateway.post("/api/outbound", headers=admin_headers(), json={
        "customer_id": customer_id, "template": "outage", "variables": {"service": "Checkout"}})
    assert response.status == 201
    sent = await response.json()
    assert sent["opened"] is True and sent["conversation_id"] != ack["conversation_id"]
    await chat_gateway.backend.drain_async()

    again, welcome2 = await hello(chat_gateway, visitor_token=welcome["visitor_token"])
    assert welcome2["conversation_id"] == sent["conversation_id"]
    assert welcome2["messages"][-1]["text"].startswith("Checkout is currently unavailable.")
    assert f"Reference for support: {sent['conversation_id']}" in welcome2["messages"][-1]["text"]
    answer = await say(again, "c-2", "Checkout shows me a broken page")
    assert answer["conversation_id"] == sent["conversation_id"]
    conversation = await wait_until(lambda: _routed(store, sent["conversation_id"]), what="the answer to be routed")
    assert conversation.queue == "support"


async def _routed(store, conversation_id):
    conversation = await store.conversation(conversation_id)
    return conversation if conversation.rule else None
