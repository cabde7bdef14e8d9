"""CSAT over SMS, end to end: signed Twilio webhooks in, the fake Twilio out, a real RQ drain between.

The question goes out by SMS on resolve; "4 great service" comes back as the rating of that
conversation, which stays resolved (no reopen, no new conversation). An opted-out number is
never surveyed; after the window (driven clock) a number is an ordinary message that reopens.
"""

from __future__ import annotations

from datetime import timedelta

import fakeredis
import pytest

from conversations.clock import utcnow
from gateway.appkeys import SERVICES
from tests.conftest import Backend, admin_headers, start_client
from tests.csat_support import (QUESTION, RULES, SCALE, agent_replies, assert_rated, assert_reported, events, questions,
                                resolve, view)
from tests.sms.conftest import sms_settings
from tests.sms.optout_support import CUSTOMER, texts, twiml_messages
from tests.support import write_rules
from workers import context


@pytest.fixture
async def client(aiohttp_client, fake_twilio):
    backend = Backend(sms_settings(fake_twilio, rules_path=write_rules(RULES)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    yield client
    context.install(None)


async def resolved_over_sms(client) -> str:
    await texts(client, "My order is late")
    [conversation_id] = await client.app[SERVICES].store.recent_conversation_ids(limit=5)
    await agent_replies(client, conversation_id)
    await resolve(client, conversation_id)
    await client.backend.drain_async()
    return conversation_id


async def test_question_by_sms_on_resolve_and_the_answer_is_recorded(client, fake_twilio):
    conversation_id = await resolved_over_sms(client)
    survey = [form for form in fake_twilio.sent if QUESTION in form["Body"]]
    assert [(form["To"], form["Body"]) for form in survey] == [(CUSTOMER, f"{QUESTION}\n{SCALE}")]
    [question] = questions(await view(client, conversation_id))
    assert question["delivery"] == "sent" and question["meta"]["automatic"] == "1"
    assert len(events(await view(client, conversation_id), "csat_sent")) == 1

    answer = await texts(client, "4 great service")
    assert twiml_messages(answer) == []  # nothing answers a rating
    await client.backend.drain_async()
    shown = await assert_rated(client, conversation_id, "4", "great service")
    assert shown["messages"][-2]["text"] == "4 great service" and shown["messages"][-2]["direction"] == "inbound"
    assert len([f for f in fake_twilio.sent if QUESTION in f["Body"]]) == 1  # never asked twice
    await assert_reported(client, 4)


async def test_an_opted_out_number_is_never_surveyed(client, fake_twilio):
    await texts(client, "My order is late")
    [conversation_id] = await client.app[SERVICES].store.recent_conversation_ids(limit=5)
    await texts(client, "STOP")
    await resolve(client, conversation_id)
    await client.backend.drain_async()
    shown = await view(client, conversation_id)
    assert questions(shown) == [] and events(shown, "csat_sent") == []
    assert not [form for form in fake_twilio.sent if QUESTION in form["Body"]]


async def test_a_customer_with_csat_opt_out_is_never_surveyed(client, fake_twilio):
    await texts(client, "My order is late")
    [conversation_id] = await client.app[SERVICES].store.recent_conversation_ids(limit=5)
    customer_id = (await view(client, conversation_id))["conversation"]["customer_id"]
    response = await client.patch(f"/api/customers/{customer_id}", json={"attributes": {"csat_opt_out": "true"}},
                                  headers=admin_headers())
    assert response.status == 200, await response.text()
    await resolve(client, conversation_id)
    await client.backend.drain_async()
    assert questions(await view(client, conversation_id)) == []
    assert not [form for form in fake_twilio.sent if QUESTION in form["Body"]]


async def test_after_the_window_a_number_reopens_like_any_message(client):
    services = client.app[SERVICES]
    conversation_id = await resolved_over_sms(client)
    services.service.clock = lambda: utcnow() + timedelta(days=3, minutes=1)
    await texts(client, "5")
    shown = await view(client, conversation_id)
    assert shown["conversation"]["status"] == "open" and shown["conversation"]["reopen_count"] == 1
    assert "csat_rating" not in shown["conversation"]["extra"] and events(shown, "csat_rated") == []


async def test_a_reply_that_is_not_a_number_reopens_normally(client):
    conversation_id = await resolved_over_sms(client)
    await texts(client, "It still has not arrived")
    shown = await view(client, conversation_id)
    assert shown["conversation"]["status"] == "open" and shown["conversation"]["reopen_count"] == 1
    assert "csat_rating" not in shown["conversation"]["extra"]
