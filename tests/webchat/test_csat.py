"""CSAT over web chat, end to end through the socket: the question arrives as a frame the widget shows
with 1-5 buttons, the number comes back as a message and rates the conversation, which stays resolved.
"""

from __future__ import annotations

import fakeredis
import pytest

from tests.conftest import Backend, make_settings, start_client
from tests.csat_support import QUESTION, RULES, agent_replies, assert_rated, assert_reported, questions, resolve, view
from tests.support import write_rules
from tests.webchat.chat import hello, receive, say
from workers import context


@pytest.fixture
async def client(aiohttp_client):
    backend = Backend(make_settings(rules_path=write_rules(RULES)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    yield client
    context.install(None)


async def test_question_frame_on_resolve_and_the_button_rates_without_reopening(client):
    ws, welcome = await hello(client, name="Ada")
    ack = await say(ws, "c1", "Where is my order?")
    conversation_id = ack["conversation_id"]
    await agent_replies(client, conversation_id)
    await client.backend.drain_async()
    reply = await receive(ws, "message")
    assert reply["message"]["text"] == "It ships today." and "csat" not in reply["message"]

    await resolve(client, conversation_id)
    await client.backend.drain_async()
    frame = await receive(ws, "message")
    question = frame["message"]
    # The frame the widget turns into 1-5 buttons: the question as written, no "reply with a number".
    assert question["csat"] is True and question["text"] == QUESTION and question["direction"] == "outbound"
    await ws.send_json({"type": "delivered", "message_ids": [question["id"]]})

    rated = await say(ws, "c2", "5")  # what a press on the "5" button sends
    assert rated["conversation_id"] == conversation_id and rated["duplicate"] is False
    await client.backend.drain_async()
    await assert_rated(client, conversation_id, "5", "")
    await assert_reported(client, 5)
    [stored] = questions(await view(client, conversation_id))
    assert stored["delivery"] == "delivered"

    # A reload replays the question with its buttons, then the answer (the widget disables them).
    await ws.close()
    again, welcome = await hello(client, visitor_token=welcome["visitor_token"])
    shown = welcome["messages"]
    assert [m.get("csat") for m in shown if m["direction"] == "outbound"] == [None, True]
    assert shown[-1]["text"] == "5" and shown[-1]["direction"] == "inbound"
    await again.close()


async def test_a_typed_answer_with_a_comment_rates_and_a_sentence_reopens(client):
    ws, _ = await hello(client, name="Ada")
    conversation_id = (await say(ws, "c1", "Where is my order?"))["conversation_id"]
    await resolve(client, conversation_id)
    await client.backend.drain_async()
    assert (await receive(ws, "message"))["message"]["csat"] is True
    await say(ws, "c2", "2 - took three days")
    await assert_rated(client, conversation_id, "2", "took three days")
    # Rated once: what the visitor writes next is a message again, on the same conversation.
    await say(ws, "c3", "One more thing: can I change the address?")
    shown = await view(client, conversation_id)
    assert shown["conversation"]["status"] == "open" and shown["conversation"]["reopen_count"] == 1
    await ws.close()


async def test_the_per_address_cap_never_refuses_an_answer_to_the_survey(aiohttp_client):
    # One new anonymous conversation per address and hour: the first message used it up. The rating
    # goes to the resolved conversation and opens nothing, so the cap lets it through.
    settings = make_settings(rules_path=write_rules(RULES), webchat={"new_conversations_per_address_per_hour": 1})
    backend = Backend(settings, fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    try:
        ws, _ = await hello(client, name="Ada")
        conversation_id = (await say(ws, "c1", "Where is my order?"))["conversation_id"]
        await resolve(client, conversation_id)
        await backend.drain_async()
        assert (await receive(ws, "message"))["message"]["csat"] is True
        await ws.send_json({"type": "message", "client_id": "c2", "text": "Thanks, one more question"})
        refused = await receive(ws, "error")
        assert refused["code"] == "too_many_conversations"  # that one might have opened a conversation
        await say(ws, "c3", "4")
        await assert_rated(client, conversation_id, "4", "")
        await ws.close()
    finally:
        context.install(None)
