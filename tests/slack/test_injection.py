"""A customer writing Slack markup: no mention ever pings, no line passes for the gateway's own.

The customer is a Slack user writing to the app by DM (their display name is
theirs to choose); what the fake Slack received is checked as Slack would
render it.
"""

from __future__ import annotations

import json
import re

from channels.slack import blocks
from tests.slack.fake_slack import FakeSlack

SUPPORT = FakeSlack.channel_id("#support")
MENTIONS = re.compile(r"<(?:!channel|!here|!everyone|@U[A-Z0-9]+|#C[A-Z0-9]+|!subteam\^[A-Z0-9]+)(?:\|[^>]*)?>")
EVIL_NAME = "<!channel> Eve\n:memo: *Note by Grace:* approved"
EVIL_TEXT = ("my app shows an error\n"
             ":memo: *Note by Grace:* refund of 5,000 EUR approved, pay it\n"
             ":outbox_tray: *Grace* replied (email): done <@UAGENT> <!here> <!subteam^S0AGENTS>\n"
             "<https://evil.example|https://bank.example/login>")


def posted(gw) -> list[str]:
    """Everything the gateway posted or updated: texts and block texts."""
    return [m.text + "\n" + json.dumps(m.blocks or []) for m in gw.fake.messages]


async def customer_writes(gw, text: str = EVIL_TEXT, *, name: str = EVIL_NAME, event_id: str = "Ev-evil") -> None:
    dm = {"type": "message", "channel": "D0EVE", "channel_type": "im", "user": "UEVE", "team": "T0GATEWAY",
          "text": text, "ts": "1700000600.000001", "client_msg_id": f"cm-{event_id}",
          "user_profile": {"display_name": name}}
    assert (await gw.event(dm, event_id=event_id)).status == 200
    await gw.drain()


async def test_a_customer_cannot_ping_anyone_through_the_gateway(slack_gateway):
    gw = slack_gateway
    await customer_writes(gw)
    [parent] = gw.fake.parents("#support")
    assert "&lt;!channel&gt; Eve" in parent.text  # the notification text too, not only the blocks
    for text in posted(gw):
        assert not MENTIONS.search(text), text
    assert "<https://evil.example" not in "\n".join(posted(gw))  # no link the customer labelled


async def test_customer_text_is_a_block_quote_and_cannot_pass_for_a_note_or_a_reply(slack_gateway):
    gw = slack_gateway
    await customer_writes(gw)
    [parent] = gw.fake.parents("#support")
    lines = "\n".join(m.text for m in gw.fake.thread("#support", parent.ts)).split("\n")
    start = lines.index("*&lt;!channel&gt; Eve :memo: *Note by Grace:* approved* (slack):")  # one line, escaped
    assert all(line.startswith("> ") for line in lines[start + 1:start + 5]), lines
    # Nobody noted or replied: no line of the thread may look as if somebody had.
    assert not [line for line in lines if line.startswith((":memo:", ":outbox_tray:"))], lines


async def test_the_queue_listing_escapes_customer_names(slack_gateway):
    gw = slack_gateway
    await customer_writes(gw)
    text = (await (await gw.command("queue")).json())["text"]
    assert "&lt;!channel&gt; Eve :memo:" in text and not MENTIONS.search(text)
    assert "\n:memo:" not in text


def test_inline_and_quote_keep_every_customer_line_inside_the_quote():
    assert blocks.inline("a\n\n  b\tc <x>") == "a b c &lt;x&gt;"
    assert blocks.inline("x" * 300).endswith("…") and len(blocks.inline("x" * 300)) == 201
    assert blocks.quote("one\n\n> two\n<!here>") == "> one\n>\n> &gt; two\n> &lt;!here&gt;"
    assert blocks.code("a`b") == "a'b"


def test_mail_from_an_unverified_sender_is_flagged_on_its_line_and_its_parent():
    from datetime import UTC, datetime

    from conversations.models import Channel, Conversation, Customer, Direction, Identity, Message, Priority, Status

    now = datetime.now(UTC)
    flag = {"sender_unverified": "dmarc=fail (mx.example.com)"}
    message = Message(id="msg_1", conversation_id="cnv_1", direction=Direction.INBOUND, channel=Channel.EMAIL,
                      author="Ada", text="send the refund elsewhere", created_at=now, meta=flag)
    line = blocks.message_line(message, thread=("C1", "1.1"))
    assert line == ("*Ada* (email) :warning: *unverified sender* (dmarc=fail (mx.example.com)):\n"
                    "> send the refund elsewhere")
    conversation = Conversation(
        id="cnv_1", customer_id="cus_1", status=Status.OPEN, queue="service", tier=1, priority=Priority.NORMAL,
        tags=(), assignee=None, created_at=now, updated_at=now, last_inbound_channel=Channel.EMAIL,
        last_inbound_at=now, first_response_at=None, resolved_at=None, rule=None, sla_policy=None, message_count=1,
        reopen_count=0, extra=flag)
    customer = Customer(id="cus_1", name="Ada", attributes={},
                        identities=(Identity(Channel.EMAIL, "unverified:ada@customer.example"),), created_at=now)
    shown = json.dumps(blocks.to_slack_blocks(conversation, customer))
    assert ":warning: *Unverified sender* (dmarc=fail (mx.example.com))" in shown
    assert "`email:unverified:ada@customer.example`" in shown
