"""Slack users mapped to agent names: the author of what an agent does from Slack.

GATEWAY_SLACK__AGENT_NAMES maps a Slack user id or a profile e-mail (users.info,
the ``users:read.email`` scope) to the agent's name; unmapped users keep their
Slack display name. Signed events and interactions against the fake Slack.
"""

from __future__ import annotations

import pytest

from conversations.models import Direction
from gateway.settings import load_settings
from tests.slack.conftest import make_gateway
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_console import agent_reply_event, open_support_conversation
from workers import context

SUPPORT = FakeSlack.channel_id("#support")
NAMES = {"UAGENT": "Grace Hopper (tier 1)", "Linus@Example.com": "Linus T."}


@pytest.fixture
async def named_gateway(aiohttp_client, fake_slack, tmp_path):
    fake_slack.users["UAGENT3"] = "Margaret"
    fake_slack.emails.update({"UAGENT2": "linus@example.com", "UAGENT3": "margaret@example.com"})
    yield await make_gateway(aiohttp_client, fake_slack, tmp_path, slack={"agent_names": NAMES})
    context.install(None)


async def test_replies_notes_and_buttons_carry_the_mapped_agent_name(named_gateway):
    gw = named_gateway
    _, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")
    # By Slack id; by profile e-mail (case-insensitive); unmapped: the Slack display name.
    for n, (user, text) in enumerate([("UAGENT", "reset your password"), ("UAGENT2", "!note same as last week"),
                                      ("UAGENT3", "!note agreed")]):
        await gw.event(agent_reply_event(parent.ts, text, ts=f"1700006000.00000{n}", user=user),
                       event_id=f"Ev-name-{n}")
    await gw.press("gw_claim", conversation_id, channel=SUPPORT, user="UAGENT2")
    await gw.drain()

    messages = await gw.runtime.store.messages(conversation_id)
    assert [(m.author, m.text) for m in messages if m.direction in (Direction.OUTBOUND, Direction.NOTE)] == [
        ("Grace Hopper (tier 1)", "reset your password"), ("Linus T.", "same as last week"),
        ("Margaret", "agreed")]
    assert (await gw.runtime.store.conversation(conversation_id)).assignee == "Linus T."
    # users.info is asked once per user and cached; a user mapped by id is never looked up.
    asked = [c.args["user"] for c in gw.fake.ok_calls("users.info")]
    assert sorted(asked) == ["UAGENT2", "UAGENT3"]


def test_agent_names_are_read_as_pairs_or_json_and_checked(monkeypatch):
    monkeypatch.setenv("GATEWAY_SLACK__AGENT_NAMES", "U0AAA=Grace Hopper, Ada@Example.com = Ada")
    assert load_settings(_env_file=None).slack.agent_names == {"U0AAA": "Grace Hopper", "ada@example.com": "Ada"}
    monkeypatch.setenv("GATEWAY_SLACK__AGENT_NAMES", '{"W0BBB": "Linus"}')
    assert load_settings(_env_file=None).slack.agent_names == {"W0BBB": "Linus"}
    for wrong in ("grace", "S0GROUP=Team", "U0AAA=", "U0AAA=" + "x" * 81):
        monkeypatch.setenv("GATEWAY_SLACK__AGENT_NAMES", wrong)
        with pytest.raises(SystemExit, match="GATEWAY_SLACK__AGENT_NAMES"):
            load_settings(_env_file=None)


def test_thread_replies_is_customer_or_internal(monkeypatch):
    monkeypatch.delenv("GATEWAY_SLACK__THREAD_REPLIES", raising=False)
    assert load_settings(_env_file=None).slack.thread_replies == "customer"
    monkeypatch.setenv("GATEWAY_SLACK__THREAD_REPLIES", "internal")
    assert load_settings(_env_file=None).slack.thread_replies == "internal"
    monkeypatch.setenv("GATEWAY_SLACK__THREAD_REPLIES", "agents")
    with pytest.raises(SystemExit, match="GATEWAY_SLACK__THREAD_REPLIES"):
        load_settings(_env_file=None)
