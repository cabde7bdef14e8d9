"""The agents' console end to end: web chat in, a Slack thread, replies and notes back out.

Real components throughout: the gateway app on fakeredis, RQ jobs drained
in-process, the official slack_sdk client talking HTTP to the fake Slack,
and requests signed exactly as Slack signs them.
"""

from __future__ import annotations

import time

import pytest

from tests.slack.fake_slack import FakeSlack
from tests.slack.signing import event_body, signed_headers
from tests.support import wait_until
from tests.webchat.test_socket import hello, receive, say

SUPPORT = FakeSlack.channel_id("#support")
SUPPORT_T2 = FakeSlack.channel_id("#support-t2")


def blocks_text(blocks: list[dict] | None) -> str:
    """Every text in a Block Kit message, for assertions."""
    out: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks or [])
    return "\n".join(out)


async def open_support_conversation(gw, text: str = "I get an error when I log in"):
    ws, _ = await hello(gw.client, name="Ada")
    ack = await say(ws, "c-1", text)
    await gw.drain()
    return ws, ack["conversation_id"]


def agent_reply_event(thread_ts: str, text: str, *, ts: str, user: str = "UAGENT", channel: str = SUPPORT) -> dict:
    return {"type": "message", "channel": channel, "channel_type": "channel", "user": user, "text": text,
            "ts": ts, "thread_ts": thread_ts, "event_ts": ts}


async def test_web_chat_message_routed_to_support_gets_a_parent_in_the_support_channel(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)

    [parent] = gw.fake.parents("#support")
    shown = blocks_text(parent.blocks)
    assert "Ada" in shown and "support" in shown and "technical-problems" in shown and "`bug`" in shown
    assert conversation_id in shown
    buttons = [e["action_id"] for b in parent.blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["gw_claim", "gw_escalate", "gw_transfer_service", "gw_resolve", "gw_note"]
    thread = [m.text for m in gw.fake.thread("#support", parent.ts)]
    assert any("I get an error when I log in" in t for t in thread)
    assert not gw.fake.parents("#service")


async def test_agent_thread_reply_reaches_the_visitor_socket(slack_gateway):
    gw = slack_gateway
    ws, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")

    response = await gw.event(agent_reply_event(parent.ts, "Try resetting your password <https://x.test/reset|here>",
                                                ts="1700000100.000001"), event_id="Ev-reply-1")
    assert response.status == 200
    await gw.drain()

    frame = await receive(ws, "message")
    assert frame["message"]["text"] == "Try resetting your password here (https://x.test/reset)"
    assert frame["message"]["author"] == "Grace"  # the agent's Slack display name, from users.info
    # Web chat replies are delivered when the visitor's widget acknowledges them (docs/WEBCHAT.md).
    await ws.send_json({"type": "delivered", "message_ids": [frame["message"]["id"]]})

    async def delivered() -> bool:
        message = await gw.runtime.store.message(conversation_id, frame["message"]["id"])
        return message.delivery == "delivered"

    await wait_until(delivered, what="the acknowledged reply to be delivered")
    await gw.drain()
    thread = [m.text for m in gw.fake.thread("#support", parent.ts)]
    # The thread's one settled-delivery line: published to the chat ("Sent"); the ack came after it.
    assert any(t.startswith(":heavy_check_mark: Sent (webchat)") for t in thread)
    assert not any("Try resetting" in t and "replied" in t for t in thread)  # not echoed into its own thread


async def test_note_never_reaches_the_visitor(slack_gateway):
    gw = slack_gateway
    ws, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")

    response = await gw.command(f"note {conversation_id} VIP customer, refund approved by finance")
    assert response.status == 200 and "on it" in (await response.json())["text"]
    await gw.interact({
        "type": "view_submission", "team": {"id": "T0GATEWAY"}, "user": {"id": "UAGENT2"}, "api_app_id": "A",
        "token": "legacy", "trigger_id": "t-view",
        "view": {"id": "V1", "type": "modal", "callback_id": "gw_note_modal", "private_metadata": conversation_id,
                 "state": {"values": {"note": {"text": {"type": "plain_text_input", "value": "second note"}}}}},
    })
    await gw.drain()
    await gw.event(agent_reply_event(parent.ts, "public answer", ts="1700000100.000002"), event_id="Ev-public")
    await gw.drain()

    frame = await receive(ws, "message")
    assert frame["message"]["text"] == "public answer"  # the first and only thing the visitor sees
    with pytest.raises(TimeoutError):
        await receive(ws, "message", timeout=0.3)
    messages = await gw.runtime.store.messages(conversation_id)
    notes = [(m.author, m.text) for m in messages if m.direction == "note"]
    assert notes == [("Grace", "VIP customer, refund approved by finance"), ("Linus", "second note")]
    thread = "\n".join(m.text for m in gw.fake.thread("#support", parent.ts))
    assert "Note by Grace:* VIP customer" in thread and "Note by Linus:* second note" in thread


async def test_the_same_event_delivered_three_times_is_one_message_and_one_post(slack_gateway):
    gw = slack_gateway
    ws, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")
    posts_before = len(gw.fake.ok_calls("chat.postMessage"))
    event = agent_reply_event(parent.ts, "one answer", ts="1700000100.000003")

    for retry in (None, "1", "2"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        response = await gw.event(event, event_id="Ev-same", headers=headers)
        assert response.status == 200
    await gw.drain()

    replies = [m for m in await gw.runtime.store.messages(conversation_id) if m.direction == "outbound"]
    assert [m.text for m in replies] == ["one answer"]
    frame = await receive(ws, "message")
    assert frame["message"]["text"] == "one answer"
    with pytest.raises(TimeoutError):
        await receive(ws, "message", timeout=0.3)
    new_posts = gw.fake.ok_calls("chat.postMessage")[posts_before:]
    assert len(new_posts) == 1 and "one answer" in new_posts[0].args["text"]  # its one delivery notice


async def test_a_customer_slack_message_delivered_three_times_is_stored_and_posted_once(slack_gateway):
    gw = slack_gateway
    dm = {"type": "message", "channel": "D0CUSTOMER", "channel_type": "im", "user": "UCUST", "team": "T0OTHER",
          "text": "my app shows an error", "ts": "1700000200.000001", "client_msg_id": "cm-1"}
    for retry in (None, "1", "2"):
        headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        assert (await gw.event(dm, event_id="Ev-dm", headers=headers)).status == 200
    await gw.drain()

    [conversation_id] = await gw.runtime.store.recent_conversation_ids(limit=10)
    inbound = [m for m in await gw.runtime.store.messages(conversation_id) if m.direction == "inbound"]
    assert [m.text for m in inbound] == ["my app shows an error"]
    [parent] = gw.fake.parents("#support")
    thread = [m.text for m in gw.fake.thread("#support", parent.ts)]
    assert sum("my app shows an error" in t for t in thread) == 1


async def test_bad_signature_is_refused_with_401_and_changes_nothing(slack_gateway):
    gw = slack_gateway
    body = event_body({"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "hi",
                       "ts": "1.1"}, event_id="Ev-forged")
    response = await gw.client.post("/slack/events", data=body, headers=signed_headers(body, secret="wrong"))
    assert response.status == 401
    assert await gw.runtime.store.recent_conversation_ids(limit=10) == []


async def test_six_minute_old_timestamp_is_refused_with_401(slack_gateway):
    gw = slack_gateway
    body = event_body({"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "hi",
                       "ts": "1.1"}, event_id="Ev-old")
    response = await gw.client.post("/slack/events", data=body,
                                    headers=signed_headers(body, timestamp=int(time.time()) - 6 * 60))
    assert response.status == 401
    assert await gw.runtime.store.recent_conversation_ids(limit=10) == []


async def test_escalate_button_moves_the_conversation_to_the_tier_2_channel_with_its_history(slack_gateway):
    gw = slack_gateway
    ws, conversation_id = await open_support_conversation(gw, "the export crashes with error 500")
    await say(ws, "c-2", "it happens every time since Monday")
    await gw.drain()
    [old] = gw.fake.parents("#support")
    await gw.event(agent_reply_event(old.ts, "Looking into it", ts="1700000100.000010"), event_id="Ev-a1")
    await gw.drain()

    response = await gw.press("gw_escalate", conversation_id, channel=SUPPORT)
    assert response.status == 200
    await gw.drain()

    conversation = await gw.runtime.store.conversation(conversation_id)
    assert (conversation.queue, conversation.tier) == ("support", 2)
    [new] = gw.fake.parents("#support-t2")
    assert "tier 2" in blocks_text(new.blocks)
    history = "\n".join(m.text for m in gw.fake.thread("#support-t2", new.ts))
    for line in ("the export crashes with error 500", "it happens every time since Monday",
                 "*Grace* replied (webchat): Looking into it", "Grace escalated to support tier 2"):
        assert line in history
    assert history.index("crashes") < history.index("since Monday") < history.index("Looking into it")
    old_now = gw.fake.find("#support", old.ts)
    assert "Moved to" in blocks_text(old_now.blocks)
    assert not [b for b in old_now.blocks if b["type"] == "actions"]  # no buttons on the moved thread
    moved = gw.fake.thread("#support", old.ts)[-1].text
    assert "moved to" in moved and f"https://fake.slack.test/archives/{SUPPORT_T2}/p" in moved
    # The customer's conversation stays one conversation.
    assert await gw.runtime.store.recent_conversation_ids(limit=10) == [conversation_id]


async def test_reply_in_the_moved_thread_still_reaches_the_customer_and_shows_in_the_new_one(slack_gateway):
    gw = slack_gateway
    ws, conversation_id = await open_support_conversation(gw)
    [old] = gw.fake.parents("#support")
    await gw.press("gw_escalate", conversation_id, channel=SUPPORT)
    await gw.drain()
    await gw.event(agent_reply_event(old.ts, "late answer from tier 1", ts="1700000100.000020"), event_id="Ev-late")
    await gw.drain()

    assert (await receive(ws, "message"))["message"]["text"] == "late answer from tier 1"
    [new] = gw.fake.parents("#support-t2")
    assert any("late answer from tier 1" in m.text for m in gw.fake.thread("#support-t2", new.ts))
