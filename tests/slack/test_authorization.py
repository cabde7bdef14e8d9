"""Agent actions only by agents: customers never, and only the listed agents when a list is set.

Everything through the real Slack edge: signed commands, button presses, modal
submissions and thread-reply events; the fake Slack records what each person
was shown.
"""

from __future__ import annotations

import pytest

from gateway.settings import load_settings
from tests.slack.conftest import CUSTOMER_CHANNEL, make_gateway
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_console import agent_reply_event
from workers import context

SUPPORT = FakeSlack.channel_id("#support")


async def dm_from_customer(gw, user: str = "UCUST", text: str = "my app shows an error", n: int = 1) -> str:
    dm = {"type": "message", "channel": f"D{user}", "channel_type": "im", "user": user, "team": "T0GATEWAY",
          "text": text, "ts": f"1700000700.00000{n}", "client_msg_id": f"cm-{user}-{n}",
          "user_profile": {"display_name": "Margaret"}}
    assert (await gw.event(dm, event_id=f"Ev-{user}-{n}")).status == 200
    await gw.drain()
    return (await gw.runtime.store.recent_conversation_ids(limit=1))[0]


async def snapshot(gw, conversation_id: str):
    conversation = await gw.runtime.store.conversation(conversation_id)
    messages = await gw.runtime.store.messages(conversation_id)
    return conversation.status, conversation.assignee, conversation.queue, conversation.tier, len(messages)


async def test_a_customer_cannot_use_the_commands_the_buttons_or_the_note_modal(slack_gateway):
    gw = slack_gateway
    conversation_id = await dm_from_customer(gw)
    before = await snapshot(gw, conversation_id)

    listing = (await (await gw.command("queue", user="UCUST")).json())["text"]
    assert "customer" in listing and "Margaret" not in listing and conversation_id not in listing
    for command in (f"claim {conversation_id}", f"resolve {conversation_id}", f"note {conversation_id} hi",
                    f"transfer {conversation_id} service"):
        text = (await (await gw.command(command, user="UCUST", trigger=command)).json())["text"]
        assert "written to us as a customer" in text
    for n, action in enumerate(("gw_claim", "gw_resolve", "gw_escalate", "gw_transfer_service", "gw_note")):
        assert (await gw.press(action, conversation_id, user="UCUST", channel="DUCUST", action_ts=f"9.{n}")).status \
            == 200
    submitted = await gw.interact({
        "type": "view_submission", "team": {"id": "T0GATEWAY"}, "user": {"id": "UCUST", "team_id": "T0GATEWAY"},
        "api_app_id": "A", "token": "legacy", "trigger_id": "t-view",
        "view": {"id": "V9", "type": "modal", "callback_id": "gw_note_modal", "private_metadata": conversation_id,
                 "state": {"values": {"note": {"text": {"type": "plain_text_input", "value": "sneaky"}}}}}})
    assert (await submitted.json())["response_action"] == "errors"
    await gw.drain()

    assert await snapshot(gw, conversation_id) == before
    assert not gw.fake.ok_calls("views.open")
    assert len(gw.fake.ephemerals("UCUST")) == 5  # each press answered, to the customer only
    assert all("customer" in c.args["text"] for c in gw.fake.ephemerals("UCUST"))


async def test_a_thread_reply_by_a_customer_never_reaches_the_customer_side(slack_gateway):
    gw = slack_gateway
    conversation_id = await dm_from_customer(gw)
    await dm_from_customer(gw, user="UOTHER", text="I also have an error")  # UOTHER is a customer too
    [parent, *_] = gw.fake.parents("#support")
    thread_conversation = await gw.runtime.store.conversation(conversation_id)
    before = await snapshot(gw, thread_conversation.id)

    event = agent_reply_event(parent.ts, "your refund is approved", ts="1700000700.000100", user="UOTHER")
    assert (await gw.event(event, event_id="Ev-sneaky")).status == 200
    await gw.drain()

    assert await snapshot(gw, thread_conversation.id) == before
    assert not [m for m in gw.fake.messages if m.channel == "DUCUST" and "refund" in m.text]
    [told] = gw.fake.ephemerals("UOTHER")
    assert told.args["thread_ts"] == parent.ts and "Not sent to the customer" in told.args["text"]


async def test_a_shared_channel_guest_is_a_customer_even_when_listed_as_an_agent(aiohttp_client, fake_slack, tmp_path):
    gw = await make_gateway(aiohttp_client, fake_slack, tmp_path, slack={"agent_ids": ["UAGENT", "UGUEST"]})
    try:
        shared = {"type": "message", "channel": CUSTOMER_CHANNEL, "channel_type": "channel", "user": "UGUEST",
                  "user_team": "T0PARTNER", "text": "is the API broken?", "ts": "1700000800.000001",
                  "client_msg_id": "cm-guest"}
        await gw.event(shared, event_id="Ev-guest")
        await gw.drain()
        text = (await (await gw.command("queue", user="UGUEST")).json())["text"]
        assert "written to us as a customer" in text
        assert "Open conversations" in (await (await gw.command("queue")).json())["text"]  # UAGENT still works
    finally:
        context.install(None)


@pytest.fixture
async def listed_gateway(aiohttp_client, fake_slack, tmp_path):
    fake_slack.usergroups["S0AGENTS"] = ["UGROUPIE"]
    fake_slack.users["UGROUPIE"] = "Ada"
    gw = await make_gateway(aiohttp_client, fake_slack, tmp_path, slack={"agent_ids": "UAGENT, S0AGENTS"})
    yield gw
    context.install(None)


async def test_with_agent_ids_only_listed_users_and_group_members_act(listed_gateway):
    gw = listed_gateway
    conversation_id = await dm_from_customer(gw)
    before = await snapshot(gw, conversation_id)

    refused = (await (await gw.command(f"claim {conversation_id}", user="UAGENT2")).json())["text"]
    assert "Only agents" in refused
    await gw.press("gw_resolve", conversation_id, user="UAGENT2", channel=SUPPORT)
    [parent] = gw.fake.parents("#support")
    await gw.event(agent_reply_event(parent.ts, "not an agent", ts="1700000900.000001", user="UAGENT2"),
                   event_id="Ev-not-agent")
    await gw.drain()
    assert await snapshot(gw, conversation_id) == before

    assert "on it" in (await (await gw.command(f"claim {conversation_id}", user="UAGENT")).json())["text"]
    assert "on it" in (await (await gw.command(f"note {conversation_id} group note", user="UGROUPIE",
                                               trigger="t2")).json())["text"]
    assert "Open conversations" in (await (await gw.command("queue", user="UGROUPIE", trigger="t3")).json())["text"]
    await gw.drain()
    conversation = await gw.runtime.store.conversation(conversation_id)
    assert conversation.assignee == "Grace"
    notes = [m.text for m in await gw.runtime.store.messages(conversation_id) if m.direction == "note"]
    assert notes == ["group note"]
    assert len(gw.fake.ok_calls("usergroups.users.list")) == 1  # the group's members are cached


def test_agent_ids_are_read_as_comma_separated_text_or_json(monkeypatch):
    monkeypatch.setenv("GATEWAY_SLACK__AGENT_IDS", "U0AAA, W0BBB,S0CCC")
    assert load_settings(_env_file=None).slack.agent_ids == ["U0AAA", "W0BBB", "S0CCC"]
    monkeypatch.setenv("GATEWAY_SLACK__AGENT_IDS", '["U0AAA"]')
    assert load_settings(_env_file=None).slack.agent_ids == ["U0AAA"]
    monkeypatch.setenv("GATEWAY_SLACK__AGENT_IDS", "grace")
    with pytest.raises(SystemExit, match="GATEWAY_SLACK__AGENT_IDS"):
        load_settings(_env_file=None)


async def test_an_unreadable_agents_group_admits_nobody_and_says_why(aiohttp_client, fake_slack, tmp_path):
    gw = await make_gateway(aiohttp_client, fake_slack, tmp_path, slack={"agent_ids": "UAGENT,S0MISSING"})
    try:
        response = await gw.command("queue", user="UAGENT2")
        assert response.status == 200
        assert "Could not check who is an agent (no_such_subteam)" in (await response.json())["text"]
        assert "open conversations" in (await (await gw.command("queue")).json())["text"]  # listed users still act
    finally:
        context.install(None)


async def test_a_customer_cannot_escalate_or_open_the_note_form_from_a_message_shortcut(slack_gateway):
    gw = slack_gateway
    conversation_id = await dm_from_customer(gw)
    [parent] = gw.fake.parents("#support")
    before = await snapshot(gw, conversation_id)
    text = (await (await gw.command(f"escalate {conversation_id} too slow", user="UCUST", trigger="t-esc")).json())[
        "text"]
    assert "written to us as a customer" in text
    for kind in ("message_action", "shortcut"):
        shortcut = {"type": kind, "callback_id": "gw_note", "team": {"id": "T0GATEWAY"},
                    "user": {"id": "UCUST", "team_id": "T0GATEWAY"}, "api_app_id": "A", "token": "legacy",
                    "trigger_id": f"t-{kind}", "channel": {"id": SUPPORT},
                    "message": {"ts": parent.ts, "thread_ts": parent.ts}}
        assert (await gw.interact(shortcut)).status == 200
    await gw.drain()
    assert await snapshot(gw, conversation_id) == before
    assert not gw.fake.ok_calls("views.open")
    told = gw.fake.ephemerals("UCUST")
    assert len(told) == 2 and all("customer" in c.args["text"] for c in told)


async def test_an_unlisted_users_button_press_is_refused_to_them_alone(listed_gateway):
    gw = listed_gateway
    conversation_id = await dm_from_customer(gw)
    before = await snapshot(gw, conversation_id)
    for n, action in enumerate(("gw_claim", "gw_resolve", "gw_escalate", "gw_transfer_service", "gw_note")):
        await gw.press(action, conversation_id, user="UAGENT2", channel=SUPPORT, action_ts=f"8.{n}")
    await gw.drain()
    assert await snapshot(gw, conversation_id) == before
    assert not gw.fake.ok_calls("views.open")
    told = gw.fake.ephemerals("UAGENT2")
    assert len(told) == 5 and all("Only agents" in c.args["text"] for c in told)
    assert not [c for c in gw.fake.ephemerals("UAGENT") if "Only agents" in c.args["text"]]
