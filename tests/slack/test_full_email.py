"""The "Show full email" button: the whole mail, quoted history included, posted only to the agent who asked."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from channels.email.inbound import parse_email, to_inbound
from conversations.models import Direction
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_console import blocks_text

SUPPORT = FakeSlack.channel_id("#support")
REPLY = """I still get an error when I log in.

-- 
Dana Reyes
Head of IT | Contoso
+44 20 7946 0000

On Mon, 3 Mar 2025 at 10:15, Example Support <support@example.com> wrote:
> Please clear your browser cache and try again.
"""


async def email_conversation(gw) -> tuple[str, str]:
    mail = EmailMessage()
    mail["From"] = "Dana Reyes <dana@contoso.example>"
    mail["To"] = "support@example.com"
    mail["Subject"] = "Re: Login problem"
    mail["Message-ID"] = "<login-1@contoso.example>"
    mail.set_content(REPLY)
    inbound = to_inbound(parse_email(mail.as_bytes()), received_at=datetime.now(UTC))
    result = await gw.runtime.service.ingest(inbound)
    await gw.drain()
    [message] = [m for m in await gw.runtime.store.messages(result.conversation_id)
                 if m.direction == Direction.INBOUND]
    return result.conversation_id, message.id


async def press_full_email(gw, value: str, *, thread_ts: str, user: str = "UAGENT", action_ts: str = "2.1"):
    return await gw.interact({
        "type": "block_actions", "team": {"id": "T0GATEWAY"}, "user": {"id": user, "team_id": "T0GATEWAY"},
        "api_app_id": "AGATEWAY", "token": "legacy", "trigger_id": f"trigger-{action_ts}",
        "channel": {"id": SUPPORT},
        "container": {"type": "message", "message_ts": "1700000000.000009", "channel_id": SUPPORT,
                      "thread_ts": thread_ts},
        "actions": [{"type": "button", "action_id": "gw_full_message", "block_id": "gw_full",
                     "value": value, "action_ts": action_ts}],
    })


async def test_the_thread_shows_the_new_words_the_signature_collapsed_and_a_button(slack_gateway):
    gw = slack_gateway
    conversation_id, message_id = await email_conversation(gw)
    [parent] = gw.fake.parents("#support")
    [post] = [m for m in gw.fake.thread("#support", parent.ts) if m.blocks]
    assert post.text == "*Dana Reyes* (email):\n> I still get an error when I log in."
    shown = blocks_text(post.blocks)
    assert "Signature: Dana Reyes · Head of IT | Contoso · +44 20 7946 0000" in shown
    assert "browser cache" not in shown  # the quoted history stays behind the button
    [button] = post.blocks[-1]["elements"]
    assert (button["text"]["text"], button["value"]) == ("Show full email", f"{conversation_id} {message_id}")
    assert not any("/api/" in m.text for m in gw.fake.thread("#support", parent.ts))


async def test_show_full_email_posts_the_original_ephemerally_to_the_agent_who_asked(slack_gateway):
    gw = slack_gateway
    conversation_id, message_id = await email_conversation(gw)
    [parent] = gw.fake.parents("#support")
    before = len(gw.fake.messages)

    response = await press_full_email(gw, f"{conversation_id} {message_id}", thread_ts=parent.ts)
    assert response.status == 200

    [shown] = gw.fake.ok_calls("chat.postEphemeral")
    assert (shown.args["user"], shown.args["channel"], shown.args["thread_ts"]) == ("UAGENT", SUPPORT, parent.ts)
    text = shown.args["text"]
    assert text.splitlines()[0] == "*Full email from Dana Reyes* — Re: Login problem"
    assert "I still get an error when I log in." in text
    assert "&gt; Please clear your browser cache and try again." in text
    assert "Head of IT | Contoso" in text
    assert len(gw.fake.messages) == before  # nothing posted for everyone


async def test_show_full_email_for_a_message_that_is_gone_says_so(slack_gateway):
    gw = slack_gateway
    conversation_id, _ = await email_conversation(gw)
    [parent] = gw.fake.parents("#support")
    await press_full_email(gw, f"{conversation_id} msg_missing", thread_ts=parent.ts)
    [shown] = gw.fake.ok_calls("chat.postEphemeral")
    assert "no longer stored" in shown.args["text"]


async def test_an_unsigned_button_press_is_refused(slack_gateway):
    gw = slack_gateway
    conversation_id, message_id = await email_conversation(gw)
    response = await gw.client.post("/slack/events", data="payload=%7B%7D", headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": "1",
        "X-Slack-Signature": "v0=bad"})
    assert response.status == 401
    assert gw.fake.ok_calls("chat.postEphemeral") == []


async def test_show_full_email_is_for_agents_only(slack_gateway):
    gw = slack_gateway
    conversation_id, message_id = await email_conversation(gw)
    [parent] = gw.fake.parents("#support")
    dm = {"type": "message", "channel": "D0EVE", "channel_type": "im", "user": "UEVE", "team": "T0GATEWAY",
          "text": "hi", "ts": "1700000900.000001", "client_msg_id": "cm-eve"}
    await gw.event(dm, event_id="Ev-eve")  # Eve writes as a customer: never an agent

    await press_full_email(gw, f"{conversation_id} {message_id}", thread_ts=parent.ts, user="UEVE")
    [told] = gw.fake.ok_calls("chat.postEphemeral")
    assert told.args["user"] == "UEVE" and "as a customer" in told.args["text"]
    assert "I still get an error" not in told.args["text"]


async def test_a_mail_longer_than_one_slack_message_comes_whole_in_parts(slack_gateway):
    gw = slack_gateway
    history = "\n".join(f"> line {n:05d} of the quoted history, as the customer's client kept it" for n in range(1300))
    mail = EmailMessage()
    mail["From"] = "Dana Reyes <dana@contoso.example>"
    mail["To"] = "support@example.com"
    mail["Subject"] = "Re: Long thread"
    mail["Message-ID"] = "<long-1@contoso.example>"
    mail.set_content(f"Still broken.\n\nOn Mon, 3 Mar 2025 at 10:15, Support <support@example.com> wrote:\n{history}\n")
    inbound = to_inbound(parse_email(mail.as_bytes()), received_at=datetime.now(UTC))
    assert len(inbound.full_text) > 80_000  # more than two Slack messages' worth
    result = await gw.runtime.service.ingest(inbound)
    await gw.drain()
    [message] = [m for m in await gw.runtime.store.messages(result.conversation_id) if m.direction == Direction.INBOUND]
    [parent] = gw.fake.parents("#support")

    await press_full_email(gw, f"{result.conversation_id} {message.id}", thread_ts=parent.ts)

    parts = gw.fake.ok_calls("chat.postEphemeral")
    assert len(parts) == 3
    assert all(part.args["user"] == "UAGENT" and part.args["thread_ts"] == parent.ts for part in parts)
    assert all(len(part.args["text"]) <= 40_000 for part in parts)
    assert [part.args["text"].splitlines()[0] for part in parts] == [
        "*Full email from Dana Reyes* — Re: Long thread (1 of 3)", "*Full email (2 of 3)*", "*Full email (3 of 3)*"]
    shown = "\n".join(line for part in parts for line in part.args["text"].splitlines()[1:])
    assert shown.count("line ") == 1300 and "line 01299 of the quoted history" in shown
    assert "/api/" not in shown
