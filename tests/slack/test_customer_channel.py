"""Slack as a customer channel: DMs to the app and Slack Connect channels in, agent replies back out."""

from __future__ import annotations

from tests.slack.conftest import CUSTOMER_CHANNEL
from tests.slack.fake_slack import FakeSlack

SUPPORT = FakeSlack.channel_id("#support")


def reply(thread_ts: str, text: str, ts: str) -> dict:
    return {"type": "message", "channel": SUPPORT, "channel_type": "channel", "user": "UAGENT", "text": text,
            "ts": ts, "thread_ts": thread_ts}


async def test_a_dm_to_the_app_is_a_conversation_and_the_agent_reply_goes_back_to_the_dm(slack_gateway):
    gw = slack_gateway
    dm = {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "team": "T0GATEWAY",
          "text": "the app shows an error", "ts": "1700000300.000001", "client_msg_id": "cm-dm-1",
          "user_profile": {"display_name": "Margaret"}}
    assert (await gw.event(dm, event_id="Ev-dm-1")).status == 200
    await gw.drain()
    [parent] = gw.fake.parents("#support")
    assert "Margaret" in str(parent.blocks) and "slack:T0GATEWAY:UCUST" in str(parent.blocks)

    await gw.event(reply(parent.ts, "Please update to 2.1", "1700000300.000002"), event_id="Ev-dm-2")
    await gw.drain()

    [answer] = [m for m in gw.fake.messages if m.channel == "D0CUST"]
    assert answer.text == "*Grace*: Please update to 2.1" and answer.thread_ts is None
    # The bot's own post comes back as an event: ignored, nothing new is stored.
    echo = {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UBOT", "bot_id": "BBOT",
            "text": answer.text, "ts": answer.ts}
    await gw.event(echo, event_id="Ev-dm-echo")
    [conversation_id] = await gw.runtime.store.recent_conversation_ids(limit=5)
    messages = await gw.runtime.store.messages(conversation_id)
    assert [m.direction.value for m in messages if m.direction.value in ("inbound", "outbound")] == \
        ["inbound", "outbound"]
    assert any(":heavy_check_mark: Sent (slack)" in m.text for m in gw.fake.thread("#support", parent.ts))


async def test_a_shared_channel_message_gets_its_answer_in_its_own_thread(slack_gateway):
    gw = slack_gateway
    shared = {"type": "message", "channel": CUSTOMER_CHANNEL, "channel_type": "channel", "user": "UGUEST",
              "user_team": "T0PARTNER", "text": "is the API broken?", "ts": "1700000400.000001",
              "client_msg_id": "cm-shared-1"}
    await gw.event(shared, event_id="Ev-sh-1")
    await gw.drain()
    [parent] = gw.fake.parents("#support")
    await gw.event(reply(parent.ts, "Not for us; which endpoint?", "1700000400.000002"), event_id="Ev-sh-2")
    await gw.drain()

    [answer] = [m for m in gw.fake.messages if m.channel == CUSTOMER_CHANNEL]
    assert answer.thread_ts == "1700000400.000001"
    assert "Not for us; which endpoint?" in answer.text


async def test_a_failed_slack_delivery_shows_the_reason_in_the_thread(slack_gateway):
    gw = slack_gateway
    dm = {"type": "message", "channel": "D0GONE", "channel_type": "im", "user": "UGONE", "team": "T0GATEWAY",
          "text": "error again", "ts": "1700000500.000001", "client_msg_id": "cm-gone"}
    await gw.event(dm, event_id="Ev-gone-1")
    await gw.drain()
    [parent] = gw.fake.parents("#support")
    gw.fake.fail_channels["D0GONE"] = "is_archived"
    await gw.event(reply(parent.ts, "hello?", "1700000500.000002"), event_id="Ev-gone-2")
    await gw.drain()

    thread = "\n".join(m.text for m in gw.fake.thread("#support", parent.ts))
    assert "Not delivered (slack): “hello?”" in thread and "is_archived" in thread
