"""Opt-outs across the rest of the gateway: SLA clocks, the Slack thread, Twilio's own 21610, a real Redis.

Signed Twilio webhooks and the fake Twilio throughout; the Slack test adds the
fake Slack Web API and signed Slack events; the last two run on a real
redis-server (the Lua scripts and a restart of the app on the same data).
"""

from __future__ import annotations

import fakeredis
import pytest

from gateway.appkeys import SERVICES
from tests.conftest import Backend, make_settings, start_client
from tests.slack.conftest import RULES as SLACK_RULES
from tests.slack.conftest import fake_slack  # noqa: F401  (the fake Slack Web API fixture)
from tests.slack.fake_slack import FakeSlack
from tests.slack.signing import SIGNING_SECRET, event_body, signed_headers
from tests.sms.conftest import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL, sms_settings
from tests.sms.optout_support import (
    CUSTOMER,
    agent_replies,
    conversation,
    conversation_ids,
    opted_out,
    outbound,
    texts,
)
from tests.support import write_rules
from workers import context, keys, timers

SLA_RULES = """\
queues:
  service: {sla_policy: standard}
sla_policies:
  standard: {first_response: 1h, next_response: 2h, resolution: 2d}
default:
  queue: service
"""
SERVICE = FakeSlack.channel_id("#service")


@pytest.fixture(autouse=True)
def no_job_services_left():
    yield
    context.install(None)


async def test_a_keyword_after_an_agent_reply_starts_no_sla_clock(aiohttp_client, fake_twilio):
    backend = Backend(sms_settings(fake_twilio, rules_path=write_rules(SLA_RULES)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    services = client.app[SERVICES]
    redis = backend.sync_client()
    await texts(client, "My order is late")
    [conversation_id] = await conversation_ids(client)
    await agent_replies(client, conversation_id, "It ships tomorrow.")
    await timers.arm(services.store, services.rules.current, conversation_id)
    armed = (await conversation(client, conversation_id))["conversation"]
    assert armed["status"] == "pending" and "sla_next_response_due" not in armed["extra"]
    redis.delete(keys.TIMERS_DIRTY)
    timers_before = redis.zrange(keys.TIMERS, 0, -1, withscores=True)

    for word in ("STOP", "HELP", "START"):
        await texts(client, word)

    assert redis.zscore(keys.TIMERS_DIRTY, conversation_id) is None  # nothing asked for re-arming
    assert not await timers.arm(services.store, services.rules.current, conversation_id)  # and nothing would change
    assert (await conversation(client, conversation_id))["conversation"] == armed
    assert redis.zrange(keys.TIMERS, 0, -1, withscores=True) == timers_before

    # The control: an ordinary message from the customer does start the next-response clock.
    await texts(client, "Tomorrow is too late")
    assert await timers.arm(services.store, services.rules.current, conversation_id)
    assert "sla_next_response_due" in (await conversation(client, conversation_id))["conversation"]["extra"]


async def test_the_slack_thread_shows_the_opt_out_and_the_refused_reply(aiohttp_client, fake_twilio, fake_slack):
    settings = make_settings(
        rules_path=write_rules(SLACK_RULES), public_url=PUBLIC_URL,
        twilio={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": OUR_NUMBER,
                "api_base_url": fake_twilio.url},
        slack={"bot_token": "xoxb-test-token", "signing_secret": SIGNING_SECRET, "api_base_url": fake_slack.base_url})
    backend = Backend(settings, fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    await texts(client, "Where is my order?")
    await backend.drain_async()
    [parent] = fake_slack.parents("#service")

    await texts(client, "STOP")
    await backend.drain_async()
    thread = "\n".join(m.text for m in fake_slack.thread("#service", parent.ts))
    assert f':no_bell: Customer opted out of SMS: texted "STOP" from {CUSTOMER}.' in thread

    # The agent answers in the thread, as agents do.
    reply = {"type": "message", "channel": SERVICE, "channel_type": "channel", "user": "UAGENT",
             "text": "It ships tomorrow", "ts": "1700000900.000002", "thread_ts": parent.ts}
    body = event_body(reply, event_id="Ev-optout-1")
    assert (await client.post("/slack/events", data=body, headers=signed_headers(body))).status == 200
    await backend.drain_async()

    thread = "\n".join(m.text for m in fake_slack.thread("#service", parent.ts))
    assert (f":x: Not delivered (sms): “It ships tomorrow”: not sent: {CUSTOMER} opted out of SMS "
            '(texted "STOP" on ') in thread
    assert "until the customer texts START" in thread
    assert fake_twilio.requests == []


async def test_twilio_21610_teaches_the_gateway_the_opt_out_on_a_real_redis(aiohttp_client, fake_twilio, redis_url):
    # The number opted out before the gateway saw it (another app's webhook, or before it was installed).
    backend = Backend(sms_settings(fake_twilio).model_copy(update={"redis_url": redis_url}))
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    await texts(client, "Where is my order?")
    [conversation_id] = await conversation_ids(client)
    fake_twilio.failures.append((400, 21610, "Attempt to send to unsubscribed recipient"))
    await agent_replies(client, conversation_id, "first try")
    await backend.drain_async()
    assert len(fake_twilio.requests) == 1 and await opted_out(client)

    second = await agent_replies(client, conversation_id, "second try")
    await backend.drain_async()

    assert second["delivery"] == "failed" and "opted out of SMS (Twilio error 21610 on " in second["delivery_error"]
    assert len(fake_twilio.requests) == 1  # the second one never reached Twilio
    first, _ = outbound(await conversation(client, conversation_id))
    assert first["delivery_error"].startswith("Twilio error 21610: ") and "unsubscribed" in first["delivery_error"]


async def test_the_opt_out_survives_a_restart_on_a_real_redis(aiohttp_client, fake_twilio, redis_url):
    backend = Backend(sms_settings(fake_twilio).model_copy(update={"redis_url": redis_url}))
    backend.configure_jobs()
    first = await start_client(aiohttp_client, backend)
    await texts(first, "Where is my order?")
    [conversation_id] = await conversation_ids(first)
    await texts(first, "STOP")
    await first.close()

    again = await start_client(aiohttp_client, backend)  # a new process's app on the same Redis
    assert await opted_out(again)
    assert backend.sync_client().ttl(f"gw:optout:sms:{CUSTOMER}") == -1  # kept until START, never expires
    reply = await agent_replies(again, conversation_id, "It ships tomorrow.")
    await backend.drain_async()
    assert reply["delivery"] == "failed" and "opted out of SMS" in reply["delivery_error"]
    assert fake_twilio.requests == []

    await texts(again, "START")
    await agent_replies(again, conversation_id, "Welcome back")
    await backend.drain_async()
    assert [form["Body"] for form in fake_twilio.sent] == ["Welcome back"]
