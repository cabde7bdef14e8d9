"""SMS compliance end to end: STOP, START and HELP through signed Twilio webhooks.

The gateway app on fakeredis, RQ jobs drained in-process, the official twilio
client sending to the fake Twilio (whose request list proves what was, and was
not, handed to the provider).
"""

from __future__ import annotations

import fakeredis
import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from channels.sms.settings import DEFAULT_HELP_TEXT
from gateway.appkeys import SERVICES
from gateway.settings import load_settings
from tests.conftest import Backend, start_client
from tests.sms.conftest import sms_settings
from tests.sms.optout_support import (
    CUSTOMER,
    agent_replies,
    conversation,
    conversation_ids,
    customer_view,
    events,
    opted_out,
    outbound,
    texts,
    twiml_messages,
)
from tests.support import write_rules
from workers import context, defaults, keys

OPT_OUT_WORDS = ["STOP", "stop", "  Stop \n", "STOPALL", "unsubscribe", "CANCEL", "End", "QUIT", "OPTOUT", "revoke"]
OPT_IN_WORDS = ["START", "start", " UNSTART ", "unstop", "YES"]
AUTO_REPLY_RULES = """\
queues:
  service: {}
default:
  queue: service
  auto_reply: "Thanks for your message: we answer within a day."
"""


@pytest.fixture(autouse=True)
def no_job_services_left():
    yield
    context.install(None)


async def gateway_with(aiohttp_client, fake_twilio, **twilio):
    backend = Backend(sms_settings(fake_twilio, **twilio), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    return client


@pytest.mark.parametrize("word", OPT_OUT_WORDS)
async def test_every_opt_out_keyword_records_an_opt_out_and_opens_nothing(sms_gateway, fake_twilio, word):
    twiml = await texts(sms_gateway, word)

    assert twiml_messages(twiml) == []  # Twilio's own opt-out handling confirms; we add nothing
    assert await conversation_ids(sms_gateway) == []
    [record] = (await customer_view(sms_gateway))["opt_outs"]
    assert record["channel"] == "sms" and record["address"] == CUSTOMER
    assert record["via"] == f'texted "{word.strip()}"' and record["opted_out_at"]
    await sms_gateway.backend.drain_async()
    assert fake_twilio.requests == []


async def test_opt_out_type_stop_counts_whatever_the_words(sms_gateway):
    # An Advanced Opt-Out custom keyword: Twilio says what it is.
    await texts(sms_gateway, "ARRET", OptOutType="STOP")
    assert await opted_out(sms_gateway)
    record = (await customer_view(sms_gateway))["opt_outs"][0]
    assert record["via"] == 'texted "ARRET" (Twilio OptOutType=STOP)'


async def test_stop_inside_a_sentence_is_an_ordinary_message(sms_gateway):
    await texts(sms_gateway, "Please stop charging me twice")
    [conversation_id] = await conversation_ids(sms_gateway)
    assert not await opted_out(sms_gateway)
    view = await conversation(sms_gateway, conversation_id)
    assert [m["text"] for m in view["messages"] if m["direction"] == "inbound"] == ["Please stop charging me twice"]
    assert view["conversation"]["queue"]


async def test_a_reply_to_an_opted_out_number_fails_at_once_and_twilio_is_never_called(sms_gateway, fake_twilio):
    await texts(sms_gateway, "My order is late")
    [conversation_id] = await conversation_ids(sms_gateway)
    await texts(sms_gateway, "STOP")

    reply = await agent_replies(sms_gateway, conversation_id, "It ships tomorrow.")
    # The agent sees it in the API's answer already: failed, and why.
    assert reply["delivery"] == "failed"
    assert reply["delivery_error"].startswith(f"not sent: {CUSTOMER} opted out of SMS (texted \"STOP\" on ")
    assert reply["delivery_error"].endswith("nothing is sent to it until the customer texts START")
    await sms_gateway.backend.drain_async()

    assert fake_twilio.requests == []
    [shown] = outbound(await conversation(sms_gateway, conversation_id))
    assert (shown["delivery"], shown["delivery_error"]) == ("failed", reply["delivery_error"])
    # A policy refusal, not a fault: nothing in the dead-letter list to retry.
    assert sms_gateway.backend.sync_client().zcard(keys.FAILURES) == 0


async def test_a_reply_queued_before_the_stop_is_refused_when_its_job_runs(sms_gateway, fake_twilio):
    await texts(sms_gateway, "My order is late")
    [conversation_id] = await conversation_ids(sms_gateway)
    reply = await agent_replies(sms_gateway, conversation_id, "Checking now")
    assert reply["delivery"] == "queued"
    await texts(sms_gateway, "STOP")  # arrives before a worker took the reply

    await sms_gateway.backend.drain_async()

    assert fake_twilio.requests == []
    [shown] = outbound(await conversation(sms_gateway, conversation_id))
    assert shown["delivery"] == "failed" and "opted out of SMS" in shown["delivery_error"]
    assert sms_gateway.backend.sync_client().zcard(keys.FAILURES) == 0
    connection = sms_gateway.backend.sync_client()
    assert ScheduledJobRegistry(queue=Queue(defaults.OUTBOUND, connection=connection)).get_job_ids() == []  # no retry


async def test_no_auto_reply_goes_to_an_opted_out_number(aiohttp_client, fake_twilio):
    client = await gateway_with(aiohttp_client, fake_twilio, rules_path=write_rules(AUTO_REPLY_RULES))
    await texts(client, "STOP")
    await texts(client, "is anyone there?")  # still a support request, and it opens a conversation
    await texts(client, "hello", sender="+14155550177")  # another customer, who did not opt out
    await client.backend.drain_async()

    assert [(form["To"], form["Body"]) for form in fake_twilio.sent] == [
        ("+14155550177", "Thanks for your message: we answer within a day.")]
    store = client.app[SERVICES].store
    customer_id = await store.customer_for_key(f"sms:{CUSTOMER}")
    [conversation_id] = await store.customer_conversation_ids(customer_id)
    [auto] = outbound(await conversation(client, conversation_id))
    assert auto["meta"]["automatic"] == "1" and auto["delivery"] == "failed"
    assert "opted out of SMS" in auto["delivery_error"]


@pytest.mark.parametrize("word,extra", [(w, {}) for w in OPT_IN_WORDS] + [("REPRENDRE", {"OptOutType": "START"})])
async def test_opt_in_keywords_clear_the_opt_out(sms_gateway, fake_twilio, word, extra):
    await texts(sms_gateway, "My order is late")
    [conversation_id] = await conversation_ids(sms_gateway)
    await texts(sms_gateway, "STOP")
    assert await opted_out(sms_gateway)

    assert twiml_messages(await texts(sms_gateway, word, **extra)) == []

    assert not await opted_out(sms_gateway)
    reply = await agent_replies(sms_gateway, conversation_id, "Welcome back: it ships tomorrow.")
    assert reply["delivery"] == "queued"
    await sms_gateway.backend.drain_async()
    assert [(form["To"], form["Body"]) for form in fake_twilio.sent] == [(CUSTOMER, "Welcome back: it ships tomorrow.")]
    view = await conversation(sms_gateway, conversation_id)
    [opt_in] = events(view, "opted_in")
    assert opt_in["text"].startswith("Customer opted back in to SMS")
    assert await conversation_ids(sms_gateway) == [conversation_id]


@pytest.mark.parametrize("word,extra", [("HELP", {}), (" info ", {}), ("Help", {}), ("AIDE", {"OptOutType": "HELP"})])
async def test_help_gets_the_configured_help_text(sms_gateway, fake_twilio, word, extra):
    twiml = await texts(sms_gateway, word, **extra)
    assert twiml_messages(twiml) == [DEFAULT_HELP_TEXT]
    assert await conversation_ids(sms_gateway) == []
    assert not await opted_out(sms_gateway)
    assert fake_twilio.requests == []  # the answer rides on the webhook response


async def test_an_operators_help_text_and_an_empty_one(aiohttp_client, fake_twilio):
    ours = await gateway_with(aiohttp_client, fake_twilio, help_text="Acme Bikes support: reply here. STOP to end.")
    assert twiml_messages(await texts(ours, "HELP")) == ["Acme Bikes support: reply here. STOP to end."]

    # Empty: Twilio's Advanced Opt-Out answers HELP itself, so the gateway answers nothing.
    silent = await gateway_with(aiohttp_client, fake_twilio, help_text="")
    await texts(silent, "Where is my parcel?")
    [conversation_id] = await conversation_ids(silent)
    assert twiml_messages(await texts(silent, "HELP")) == []
    [help_event] = events(await conversation(silent, conversation_id), "help")
    assert help_event["text"] == (f'Customer texted "HELP" from {CUSTOMER}; no help text is configured, '
                                  "so the gateway sent nothing.")


async def test_help_text_set_empty_in_the_environment_answers_nothing(aiohttp_client, fake_twilio, monkeypatch):
    assert load_settings(_env_file=None).twilio.help_text == DEFAULT_HELP_TEXT
    monkeypatch.setenv("GATEWAY_TWILIO__HELP_TEXT", "")
    assert load_settings(_env_file=None).twilio.help_text == ""
    client = await gateway_with(aiohttp_client, fake_twilio)  # the environment's value joins the test's settings
    assert twiml_messages(await texts(client, "INFO")) == []


async def test_help_from_an_opted_out_number_gets_nothing(sms_gateway, fake_twilio):
    await texts(sms_gateway, "STOP")
    assert twiml_messages(await texts(sms_gateway, "HELP")) == []
    assert await opted_out(sms_gateway)
    assert fake_twilio.requests == []


async def test_keywords_are_events_on_the_timeline_and_do_not_touch_the_conversation(sms_gateway):
    await texts(sms_gateway, "My order is late")
    [conversation_id] = await conversation_ids(sms_gateway)
    before = (await conversation(sms_gateway, conversation_id))["conversation"]
    for word in ("HELP", "STOP", "STOP", "START"):
        await texts(sms_gateway, word)

    view = await conversation(sms_gateway, conversation_id)
    assert view["conversation"] == before  # status, activity, last inbound message, counters, routing
    assert [m["direction"] for m in view["messages"] if m["direction"] != "event"] == ["inbound"]
    lines = [(m["kind"], m["text"]) for m in events(view) if m["kind"] != "routed"]
    assert lines == [
        ("help", f'Customer texted "HELP" from {CUSTOMER}; the help text was sent: “{DEFAULT_HELP_TEXT}”'),
        ("opted_out", f'Customer opted out of SMS: texted "STOP" from {CUSTOMER}. Nothing is sent to this address '
                      "until the customer texts START."),
        ("opted_out", lines[2][1]),
        ("opted_in", f'Customer opted back in to SMS: texted "START" from {CUSTOMER}. Replies reach it again.'),
    ]
    assert lines[2][1].startswith(f'Customer texted "STOP" from {CUSTOMER} again; opted out of SMS since ')
    assert all(m["meta"]["identity"] == f"sms:{CUSTOMER}" for m in events(view) if m["kind"] != "routed")


async def test_a_stop_does_not_reopen_a_resolved_conversation(sms_gateway):
    await texts(sms_gateway, "My order is late")
    [conversation_id] = await conversation_ids(sms_gateway)
    await sms_gateway.app[SERVICES].service.resolve(conversation_id, "Grace")
    before = (await conversation(sms_gateway, conversation_id))["conversation"]

    await texts(sms_gateway, "STOP")

    view = await conversation(sms_gateway, conversation_id)
    assert view["conversation"] == before and before["status"] == "resolved" and before["reopen_count"] == 0
    assert [e["text"].split(":")[0] for e in events(view, "opted_out")] == ["Customer opted out of SMS"]
    assert await conversation_ids(sms_gateway) == [conversation_id]


async def test_the_same_stop_twice_is_one_event_and_a_late_retry_does_not_undo_a_start(sms_gateway):
    await texts(sms_gateway, "My order is late")
    [conversation_id] = await conversation_ids(sms_gateway)
    stop_sid = "SM" + "5" * 32
    await texts(sms_gateway, "STOP", sid=stop_sid)
    await texts(sms_gateway, "STOP", sid=stop_sid)  # Twilio retried
    await texts(sms_gateway, "START")
    await texts(sms_gateway, "STOP", sid=stop_sid)  # a very late retry of the old STOP

    assert not await opted_out(sms_gateway)
    kinds = [m["kind"] for m in events(await conversation(sms_gateway, conversation_id)) if m["kind"] != "routed"]
    assert kinds == ["opted_out", "opted_in"]


async def test_the_opt_out_stays_with_the_number_through_a_merge(sms_gateway, fake_twilio):
    service, store = sms_gateway.app[SERVICES].service, sms_gateway.app[SERVICES].store
    await texts(sms_gateway, "Hi, it's Ada from my other phone", sender="+14155550111")  # the older customer
    older = await store.customer_for_key("sms:+14155550111")
    await texts(sms_gateway, "STOP")
    phone = (await customer_view(sms_gateway))["id"]
    assert phone != older

    response = await sms_gateway.post(f"/api/customers/{phone}/identities", json={"channel": "sms",
                                      "address": "+14155550111"}, headers={"Authorization": "Bearer test-admin-token"})
    assert response.status == 200
    merged = await customer_view(sms_gateway)
    assert merged["id"] == older
    assert [o["address"] for o in merged["opt_outs"]] == [CUSTOMER]

    await texts(sms_gateway, "one more question")  # from the opted-out number, now the older customer's
    [conversation_id] = await store.customer_conversation_ids(older)
    reply = await service.reply(conversation_id, "Answering on your number", "Grace")
    assert reply.delivery == "failed" and "opted out of SMS" in (reply.delivery_error or "")
    await sms_gateway.backend.drain_async()
    assert fake_twilio.requests == []
