"""Internal talk never reaches an SMS customer: the fake Twilio records every message the gateway sends.

Signed Twilio webhooks in, signed Slack events from the agents, the official
twilio and slack_sdk clients against the fakes, jobs drained in-process.
"""

from __future__ import annotations

import fakeredis
import pytest

from gateway.appkeys import SERVICES
from tests.conftest import Backend, make_settings, start_client
from tests.slack.conftest import RULES
from tests.slack.fake_slack import FakeSlack
from tests.slack.signing import SIGNING_SECRET, event_body, signed_headers
from tests.sms.conftest import ACCOUNT_SID, AUTH_TOKEN, OUR_NUMBER, PUBLIC_URL, fake_twilio  # noqa: F401
from tests.sms.optout_support import CUSTOMER, conversation, texts
from tests.support import write_rules
from workers import context

SERVICE = FakeSlack.channel_id("#service")


@pytest.fixture
async def sms_and_slack(aiohttp_client, fake_twilio, fake_slack):  # noqa: F811
    async def start(mode: str):
        settings = make_settings(
            rules_path=write_rules(RULES), public_url=PUBLIC_URL,
            twilio={"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": OUR_NUMBER,
                    "api_base_url": fake_twilio.url},
            slack={"bot_token": "xoxb-test-token", "signing_secret": SIGNING_SECRET,
                   "api_base_url": fake_slack.base_url, "thread_replies": mode})
        backend = Backend(settings, fakeredis.FakeServer())
        backend.configure_jobs()
        return await start_client(aiohttp_client, backend), backend

    yield start
    context.install(None)


async def agent_writes(client, backend, thread_ts: str, text: str, ts: str) -> None:
    event = {"type": "message", "channel": SERVICE, "channel_type": "channel", "user": "UAGENT", "text": text,
             "ts": ts, "thread_ts": thread_ts}
    body = event_body(event, event_id=f"Ev-sms-{ts}")
    assert (await client.post("/slack/events", data=body, headers=signed_headers(body))).status == 200
    await backend.drain_async()


@pytest.mark.parametrize("mode", ["customer", "internal"])
async def test_internal_talk_sends_no_sms_and_a_reply_sends_one(sms_and_slack, fake_twilio, fake_slack,  # noqa: F811
                                                                  mode):
    client, backend = await sms_and_slack(mode)
    await texts(client, "Where is my order?")
    await backend.drain_async()
    [parent] = fake_slack.parents("#service")

    internal = ["!note carrier says Tuesday", "<@UAGENT2> do we refund shipping?"]
    if mode == "internal":
        internal.append("checking the warehouse")
    for n, text in enumerate(internal):
        await agent_writes(client, backend, parent.ts, text, f"1700005000.00000{n}")

    assert fake_twilio.requests == []  # nothing of the agents' talk went to the customer's phone
    [conversation_id] = await client.app[SERVICES].store.recent_conversation_ids(limit=5)
    messages = await client.app[SERVICES].store.messages(conversation_id)
    assert [m.direction.value for m in messages if m.direction.value != "event"] == \
        ["inbound"] + ["note"] * len(internal)
    assert [name for _, _, name in fake_slack.reactions] == ["lock"] * len(internal)
    notes = [m for m in (await conversation(client, conversation_id))["messages"] if m["direction"] == "note"]
    assert [(m["author"], m["text"]) for m in notes][:2] == [("Grace", "carrier says Tuesday"),
                                                               ("Grace", "@UAGENT2 do we refund shipping?")]

    answer = "It ships Tuesday" if mode == "customer" else "!reply It ships Tuesday"
    await agent_writes(client, backend, parent.ts, answer, "1700005000.000009")

    [sent] = fake_twilio.sent
    assert (sent["To"], sent["Body"]) == (CUSTOMER, "It ships Tuesday")
    assert fake_slack.reactions[-1][1:] == ("1700005000.000009", "outbox_tray")


async def test_a_reply_to_an_opted_out_customer_is_marked_sent_and_shown_not_delivered(
        sms_and_slack, fake_twilio, fake_slack):  # noqa: F811
    client, backend = await sms_and_slack("internal")
    await texts(client, "Where is my order?")
    await backend.drain_async()
    [parent] = fake_slack.parents("#service")
    await texts(client, "STOP")
    await backend.drain_async()

    await agent_writes(client, backend, parent.ts, "!reply It ships Tuesday", "1700005100.000001")

    assert fake_twilio.requests == []
    assert fake_slack.reactions_on("#service", "1700005100.000001") == ["outbox_tray"]
    thread = "\n".join(m.text for m in fake_slack.thread("#service", parent.ts))
    assert ":x: Not delivered (sms): “It ships Tuesday”: not sent: " in thread and "opted out" in thread
