"""Response templates from Slack: `/gateway template` as a command, and as a reply in a conversation's thread."""

from __future__ import annotations

import pytest

from tests.outbound.conftest import EXAMPLE_TEMPLATES
from tests.slack.conftest import make_gateway
from tests.slack.test_console import SUPPORT, agent_reply_event, open_support_conversation
from tests.webchat.chat import receive
from workers import context


@pytest.fixture
async def gw(aiohttp_client, fake_slack, tmp_path):
    (tmp_path / "templates.yaml").write_text(EXAMPLE_TEMPLATES.read_text())  # beside the rule file
    yield await make_gateway(aiohttp_client, fake_slack, tmp_path)
    context.install(None)


async def outbound_texts(gw, conversation_id: str) -> list[str]:
    return [m.text for m in await gw.runtime.store.messages(conversation_id) if m.direction == "outbound"]


async def test_the_template_command_sends_the_filled_in_text_to_the_customer(gw):
    ws, conversation_id = await open_support_conversation(gw)
    response = await gw.command(f"template {conversation_id} greeting")
    assert "Template: on it" in (await response.json())["text"]
    await gw.drain()
    assert await outbound_texts(gw, conversation_id) == ["Hi Ada, this is Grace. How can I help?"]
    frame = await receive(ws, "message")
    assert frame["message"]["text"] == "Hi Ada, this is Grace. How can I help?"
    [parent] = gw.fake.parents("#support")
    assert any("Hi Ada, this is Grace" in m.text for m in gw.fake.thread("#support", parent.ts))


async def test_a_thread_reply_naming_a_template_sends_the_template_not_the_command(gw):
    _, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")
    text = '/gateway template order-delayed order=A-17 eta="next Friday"'
    await gw.event(agent_reply_event(parent.ts, text, ts="1700000100.000010"), event_id="Ev-t1")
    await gw.drain()
    assert await outbound_texts(gw, conversation_id) == ["Your order A-17 is delayed; new delivery date: next Friday."]


async def test_a_template_that_cannot_be_sent_is_told_in_the_thread_and_nothing_goes_out(gw):
    _, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")
    await gw.event(agent_reply_event(parent.ts, "/gateway template order-delayed order=A-17",
                                     ts="1700000100.000020"), event_id="Ev-t2")
    await gw.event(agent_reply_event(parent.ts, "/gateway template nope", ts="1700000100.000030"), event_id="Ev-t3")
    await gw.drain()
    assert await outbound_texts(gw, conversation_id) == []
    thread = [m.text for m in gw.fake.thread("#support", parent.ts)]
    assert any(":x: Not sent to the customer: template 'order-delayed' needs {eta}" in t for t in thread)
    assert any(":x: Not sent to the customer: no template 'nope'" in t for t in thread)


@pytest.mark.parametrize(("text", "reason"), [
    ("template cnv_0123456789abc", "needs a template name"),
    ("template cnv_0123456789abc greeting order", "'order' is not variable=value"),
    ("template greeting", "needs the conversation id"),
])
async def test_a_mistyped_template_command_is_answered_at_once(gw, text, reason):
    response = await gw.command(text)
    assert reason in (await response.json())["text"]


async def test_workers_pick_up_an_edited_template_file_before_the_next_job(gw, tmp_path):
    _, conversation_id = await open_support_conversation(gw)
    path = tmp_path / "templates.yaml"
    path.write_text("templates:\n  greeting: 'Welcome back, {customer.first_name}!'\n")
    await gw.command(f"template {conversation_id} greeting")
    await gw.drain()
    assert await outbound_texts(gw, conversation_id) == ["Welcome back, Ada!"]
    path.write_text("templates:\n  greeting: 'Broken {customer.nope}'\n")  # refused: the last good set stays
    await gw.command(f"template {conversation_id} greeting", trigger="t2")
    await gw.drain()
    assert await outbound_texts(gw, conversation_id) == ["Welcome back, Ada!"] * 2
