"""Internal talk in a conversation's Slack thread: the mode, the prefixes, the mention rule, the marks.

Signed Slack events into the gateway, jobs drained in-process, the official
slack_sdk client against the fake Slack; the customer is a web chat visitor
(their socket would receive a reply) or, in the last tests, an SMS customer
behind the fake Twilio, which records every message the gateway sends.
"""

from __future__ import annotations

import pytest

from channels.slack import actions
from channels.slack.threadreplies import Route, decide
from conversations.models import Direction
from tests.slack.conftest import make_gateway
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_console import agent_reply_event, open_support_conversation
from workers import context

SUPPORT = FakeSlack.channel_id("#support")


@pytest.fixture
async def internal_gateway(aiohttp_client, fake_slack, tmp_path):
    """GATEWAY_SLACK__THREAD_REPLIES=internal: a plain thread message is a note."""
    yield await make_gateway(aiohttp_client, fake_slack, tmp_path, slack={"thread_replies": "internal"})
    context.install(None)


async def write_in_thread(gw, text: str, ts: str, *, user: str = "UAGENT") -> str:
    """An agent writes ``text`` in the support conversation's thread; returns the thread's parent ts."""
    [parent] = gw.fake.parents("#support")
    response = await gw.event(agent_reply_event(parent.ts, text, ts=ts, user=user), event_id=f"Ev-{ts}")
    assert response.status == 200
    await gw.drain()
    return parent.ts


async def timeline(gw, conversation_id: str, direction: Direction) -> list[tuple[str, str]]:
    """(author, text) of the conversation's notes or outbound messages."""
    return [(m.author, m.text) for m in await gw.runtime.store.messages(conversation_id)
            if m.direction == direction]


def thread_text(gw, parent_ts: str) -> str:
    return "\n".join(m.text for m in gw.fake.thread("#support", parent_ts))


# -- the default mode: customer ------------------------------------------------------------


async def test_customer_mode_sends_a_plain_message_and_marks_it_sent(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    await write_in_thread(gw, "Please reset your password", "1700001000.000001")

    assert await timeline(gw, conversation_id, Direction.OUTBOUND) == [("Grace", "Please reset your password")]
    assert await timeline(gw, conversation_id, Direction.NOTE) == []
    assert gw.fake.reactions_on("#support", "1700001000.000001") == ["outbox_tray"]


@pytest.mark.parametrize("typed", ["!note checking the logs first", "!Note checking the logs first",
                                   "  !NOTE\nchecking the logs first"])
async def test_customer_mode_keeps_a_note_prefixed_message_internal(slack_gateway, typed):
    gw = slack_gateway
    ws, conversation_id = await open_support_conversation(gw)
    parent_ts = await write_in_thread(gw, typed, "1700001000.000002")

    assert await timeline(gw, conversation_id, Direction.NOTE) == [("Grace", "checking the logs first")]
    assert await timeline(gw, conversation_id, Direction.OUTBOUND) == []  # nothing for the customer
    assert gw.fake.reactions_on("#support", "1700001000.000002") == ["lock"]
    assert "Note by" not in thread_text(gw, parent_ts)  # the thread shows the agent's own message, not a copy
    conversation = await gw.runtime.store.conversation(conversation_id)
    assert conversation.status.value == "open"  # a note is no answer: the customer still waits


async def test_a_note_prefix_alone_is_told_and_stores_nothing(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    before = await gw.runtime.store.messages(conversation_id)
    await write_in_thread(gw, "!note   ", "1700001000.000003")

    assert await gw.runtime.store.messages(conversation_id) == before
    [told] = gw.fake.ephemerals("UAGENT")
    assert "write the message after `!note `" in told.args["text"]


# -- internal mode -------------------------------------------------------------------------


async def test_internal_mode_keeps_a_plain_message_as_a_note(internal_gateway):
    gw = internal_gateway
    _, conversation_id = await open_support_conversation(gw)
    await write_in_thread(gw, "Looks like the SSO outage again", "1700002000.000001")

    assert await timeline(gw, conversation_id, Direction.NOTE) == [("Grace", "Looks like the SSO outage again")]
    assert await timeline(gw, conversation_id, Direction.OUTBOUND) == []
    assert gw.fake.reactions_on("#support", "1700002000.000001") == ["lock"]


async def test_internal_mode_sends_a_reply_prefixed_message_to_the_customer(internal_gateway):
    gw = internal_gateway
    ws, conversation_id = await open_support_conversation(gw)
    await write_in_thread(gw, "!reply We are on it, back within the hour", "1700002000.000002")

    assert await timeline(gw, conversation_id, Direction.OUTBOUND) == [
        ("Grace", "We are on it, back within the hour")]
    assert await timeline(gw, conversation_id, Direction.NOTE) == []
    assert gw.fake.reactions_on("#support", "1700002000.000002") == ["outbox_tray"]
    frame = await ws.receive_json(timeout=5)
    while frame.get("type") != "message":
        frame = await ws.receive_json(timeout=5)
    assert frame["message"]["text"] == "We are on it, back within the hour"


async def test_a_note_prefix_in_internal_mode_is_taken_off(internal_gateway):
    gw = internal_gateway
    _, conversation_id = await open_support_conversation(gw)
    await write_in_thread(gw, "!note same as a plain message", "1700002000.000003")
    assert await timeline(gw, conversation_id, Direction.NOTE) == [("Grace", "same as a plain message")]


# -- the mention rule ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["customer", "internal"])
async def test_a_message_to_a_colleague_stays_internal_in_both_modes(aiohttp_client, fake_slack, tmp_path, mode):
    gw = await make_gateway(aiohttp_client, fake_slack, tmp_path, slack={"thread_replies": mode})
    try:
        _, conversation_id = await open_support_conversation(gw)
        await write_in_thread(gw, "<@UAGENT2> can you take this one?", "1700003000.000001")
        await write_in_thread(gw, "<@UAGENT2|linus> <@UAGENT3> both of you?", "1700003000.000002")

        assert await timeline(gw, conversation_id, Direction.NOTE) == [
            ("Grace", "@UAGENT2 can you take this one?"), ("Grace", "linus @UAGENT3 both of you?")]
        assert await timeline(gw, conversation_id, Direction.OUTBOUND) == []
        assert gw.fake.reactions_on("#support", "1700003000.000001") == ["lock"]
        assert gw.fake.reactions_on("#support", "1700003000.000002") == ["lock"]
    finally:
        context.install(None)


async def test_a_mention_with_somebody_else_follows_the_mode(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    await write_in_thread(gw, "<!here> <@UAGENT2> heads up: we are answering now", "1700003000.000003")
    await write_in_thread(gw, "!reply <@UAGENT2> asked me to tell you it is fixed", "1700003000.000004")

    assert [text for _, text in await timeline(gw, conversation_id, Direction.OUTBOUND)] == [
        "!here @UAGENT2 heads up: we are answering now", "@UAGENT2 asked me to tell you it is fixed"]
    assert await timeline(gw, conversation_id, Direction.NOTE) == []


async def test_mentioning_the_slack_customer_is_talking_to_the_customer(slack_gateway):
    gw = slack_gateway
    dm = {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "team": "T0GATEWAY",
          "text": "the app shows an error", "ts": "1700003100.000001", "client_msg_id": "cm-mention-1"}
    await gw.event(dm, event_id="Ev-mention-dm")
    await gw.drain()
    [conversation_id] = await gw.runtime.store.recent_conversation_ids(limit=5)

    await write_in_thread(gw, "<@UCUST> please update to 2.1", "1700003100.000002")

    assert await timeline(gw, conversation_id, Direction.OUTBOUND) == [("Grace", "@UCUST please update to 2.1")]
    [answer] = [m for m in gw.fake.messages if m.channel == "D0CUST"]
    assert "please update to 2.1" in answer.text


# -- marks, edits, refusals ----------------------------------------------------------------


async def test_every_message_in_the_thread_is_marked_once_even_when_delivered_twice(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")
    for ts, text in (("1700004000.000001", "plain answer"), ("1700004000.000002", "!note internal"),
                     ("1700004000.000003", "<@UAGENT2> look")):
        event = agent_reply_event(parent.ts, text, ts=ts)
        for retry in (None, "1"):
            headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
            await gw.event(event, event_id=f"Ev-mark-{ts}", headers=headers)
    await gw.drain()

    assert [(ts, name) for _, ts, name in gw.fake.reactions] == [
        ("1700004000.000001", "outbox_tray"), ("1700004000.000002", "lock"), ("1700004000.000003", "lock")]
    assert len(await timeline(gw, conversation_id, Direction.OUTBOUND)) == 1
    assert len(await timeline(gw, conversation_id, Direction.NOTE)) == 2


async def test_a_refused_reply_is_marked_with_a_cross(slack_gateway):
    gw = slack_gateway
    await open_support_conversation(gw)
    # A file with no words: the service refuses an empty reply, the thread says so and marks it.
    parent_ts = await write_in_thread(gw, "   ", "1700004100.000001")
    assert gw.fake.reactions_on("#support", "1700004100.000001") == ["x"]
    assert ":x: Not sent to the customer" in thread_text(gw, parent_ts)


async def test_a_non_agents_message_is_marked_with_a_cross(aiohttp_client, fake_slack, tmp_path):
    gw = await make_gateway(aiohttp_client, fake_slack, tmp_path, slack={"agent_ids": ["UAGENT"]})
    try:
        _, conversation_id = await open_support_conversation(gw)
        before = await gw.runtime.store.messages(conversation_id)
        await write_in_thread(gw, "!note I am not an agent", "1700004200.000001", user="UAGENT2")
        assert await gw.runtime.store.messages(conversation_id) == before
        assert gw.fake.reactions_on("#support", "1700004200.000001") == ["x"]
    finally:
        context.install(None)


async def test_editing_an_internal_note_says_the_note_keeps_its_text(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    parent_ts = await write_in_thread(gw, "!note teh logs", "1700004300.000001")
    edit = {"type": "message", "subtype": "message_changed", "channel": SUPPORT, "channel_type": "channel",
            "message": {"user": "UAGENT", "text": "!note the logs", "ts": "1700004300.000001",
                        "thread_ts": parent_ts},
            "previous_message": {"user": "UAGENT", "text": "!note teh logs", "ts": "1700004300.000001",
                                 "thread_ts": parent_ts}}
    await gw.event(edit, event_id="Ev-note-edit")
    await gw.drain()

    assert await timeline(gw, conversation_id, Direction.NOTE) == [("Grace", "teh logs")]
    thread = thread_text(gw, parent_ts)
    assert "The note keeps what you first wrote" in thread and "customer keeps the original" not in thread


async def test_a_note_typed_in_the_thread_moves_with_the_conversation(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    await write_in_thread(gw, "!note VIP, be quick", "1700004400.000001")
    await gw.press("gw_transfer_service", conversation_id, channel=SUPPORT)
    await gw.drain()

    [new] = gw.fake.parents("#service")
    history = "\n".join(m.text for m in gw.fake.thread("#service", new.ts))
    assert ":memo: *Note by Grace:* VIP, be quick" in history  # the new thread did not see it typed


async def test_on_a_real_redis_the_mode_and_marks_hold(aiohttp_client, fake_slack, tmp_path, redis_url):
    gw = await make_gateway(aiohttp_client, fake_slack, tmp_path, redis_url, slack={"thread_replies": "internal"})
    try:
        _, conversation_id = await open_support_conversation(gw)
        await write_in_thread(gw, "internal by default", "1700004500.000001")
        await write_in_thread(gw, "!reply for you", "1700004500.000002")
        assert await timeline(gw, conversation_id, Direction.NOTE) == [("Grace", "internal by default")]
        assert await timeline(gw, conversation_id, Direction.OUTBOUND) == [("Grace", "for you")]
        assert [name for _, _, name in gw.fake.reactions] == ["lock", "outbox_tray"]
    finally:
        context.install(None)


# -- the rules, as a table -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "default", "route", "left"), [
    ("hello", "customer", Route.CUSTOMER, "hello"),
    ("hello", "internal", Route.INTERNAL, "hello"),
    ("!note hi", "customer", Route.INTERNAL, "hi"),
    ("!reply hi", "internal", Route.CUSTOMER, "hi"),
    ("!notes are here", "customer", Route.CUSTOMER, "!notes are here"),  # a word, not the prefix
    ("say !note later", "customer", Route.CUSTOMER, "say !note later"),
    ("<@U123> look", "customer", Route.INTERNAL, "<@U123> look"),
    ("<@W123|ann> look", "customer", Route.INTERNAL, "<@W123|ann> look"),
    ("<@UBOT> help", "customer", Route.CUSTOMER, "<@UBOT> help"),  # the gateway's bot is nobody
    ("<@UBOT> <@U123> help", "customer", Route.INTERNAL, "<@UBOT> <@U123> help"),
    ("<@U123> <!channel>", "customer", Route.CUSTOMER, "<@U123> <!channel>"),
    ("<@U123> <!subteam^S1|@t2>", "internal", Route.INTERNAL, "<@U123> <!subteam^S1|@t2>"),  # the mode's
    ("<@UCUST> fixed", "customer", Route.CUSTOMER, "<@UCUST> fixed"),
    ("<@UCUST> <@U123> fixed", "internal", Route.INTERNAL, "<@UCUST> <@U123> fixed"),  # the mode's
    ("!reply <@U123> says hi", "customer", Route.CUSTOMER, "<@U123> says hi"),
])
def test_decide(text, default, route, left):
    decision = decide(text, default=default, bot_user="UBOT", customer_users={"UCUST"})
    assert (decision.route, decision.text) == (route, left)


async def test_gateway_help_tells_agents_what_a_thread_message_does_in_this_mode(slack_gateway, internal_gateway):
    customer = (await (await slack_gateway.command("help")).json())["text"]
    internal = (await (await internal_gateway.command("help")).json())["text"]
    assert "a plain message is *sent to the customer*; start it with `!note `" in customer
    assert "a plain message *stays internal* (a note); start it with `!reply `" in internal
    assert ":lock: internal" in customer and "/gateway claim CONVERSATION" in internal


async def test_a_failed_mark_is_put_by_the_retry_and_the_note_is_stored_once(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    gw.fake.fail_methods["reactions.add"] = "internal_error"  # Slack's transient error: the job fails, RQ retries
    parent_ts = await write_in_thread(gw, "!note refund approved by finance", "1700004600.000001")
    assert await timeline(gw, conversation_id, Direction.NOTE) == [("Grace", "refund approved by finance")]
    assert gw.fake.reactions == []

    del gw.fake.fail_methods["reactions.add"]
    # What RQ's retry runs: the same job with the same arguments.
    outcome = await actions.agent_note(gw.runtime, conversation_id, SUPPORT, parent_ts, "1700004600.000001",
                                       "UAGENT", "refund approved by finance")
    assert outcome == "already handled"
    assert gw.fake.reactions_on("#support", "1700004600.000001") == ["lock"]
    assert await timeline(gw, conversation_id, Direction.NOTE) == [("Grace", "refund approved by finance")]


async def test_without_the_reactions_scope_the_message_is_still_sent(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    gw.fake.fail_methods["reactions.add"] = "missing_scope"  # permanent: logged, the job succeeds
    await write_in_thread(gw, "Please reset your password", "1700004700.000001")
    assert await timeline(gw, conversation_id, Direction.OUTBOUND) == [("Grace", "Please reset your password")]
    assert gw.fake.reactions == []
