"""Pure reading of Slack message events, commands and agent text: table-driven."""

from __future__ import annotations

import pytest

from channels.slack import commands
from channels.slack import inbound as events
from channels.slack.inbound import Kind

BOT = "UBOT"
CUSTOMER_CHANNELS = {"CSHARED"}

CASES = [
    # (name, event, expected kind)
    ("dm from a customer", {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "hi",
                            "ts": "1.1"}, Kind.CUSTOMER),
    ("customer in a shared channel", {"type": "message", "channel": "CSHARED", "channel_type": "channel",
                                      "user": "U1", "text": "hi", "ts": "1.1"}, Kind.CUSTOMER),
    ("customer file share", {"type": "message", "subtype": "file_share", "channel": "D1", "channel_type": "im",
                             "user": "U1", "text": "", "ts": "1.1", "files": [{"name": "a.png"}]}, Kind.CUSTOMER),
    ("agent thread reply", {"type": "message", "channel": "CQ", "channel_type": "channel", "user": "UA",
                            "text": "on it", "ts": "2.2", "thread_ts": "1.1"}, Kind.AGENT_REPLY),
    ("agent reply also sent to channel", {"type": "message", "subtype": "thread_broadcast", "channel": "CQ",
                                          "user": "UA", "text": "x", "ts": "2.2", "thread_ts": "1.1"},
     Kind.AGENT_REPLY),
    ("top-level chatter in a queue channel", {"type": "message", "channel": "CQ", "user": "UA", "text": "lunch?",
                                              "ts": "2.2"}, Kind.IGNORE),
    ("our own bot", {"type": "message", "channel": "CQ", "user": BOT, "text": "x", "ts": "2.2",
                     "thread_ts": "1.1"}, Kind.IGNORE),
    ("another bot", {"type": "message", "channel": "D1", "channel_type": "im", "bot_id": "B9", "user": "U9",
                     "text": "beep", "ts": "1.1"}, Kind.IGNORE),
    ("bot_message subtype", {"type": "message", "subtype": "bot_message", "channel": "D1", "text": "x",
                             "ts": "1.1"}, Kind.IGNORE),
    ("channel join", {"type": "message", "subtype": "channel_join", "channel": "CQ", "user": "UA",
                      "ts": "1.1"}, Kind.IGNORE),
    ("topic change", {"type": "message", "subtype": "channel_topic", "channel": "CQ", "user": "UA",
                      "ts": "1.1"}, Kind.IGNORE),
    ("message_replied noise", {"type": "message", "subtype": "message_replied", "channel": "CQ",
                               "message": {"user": "UA", "ts": "1.1", "thread_ts": "1.1"}, "ts": "3.3"},
     Kind.IGNORE),
    ("agent edits a reply", {"type": "message", "subtype": "message_changed", "channel": "CQ",
                             "message": {"user": "UA", "text": "new", "ts": "2.2", "thread_ts": "1.1"},
                             "previous_message": {"user": "UA", "text": "old", "ts": "2.2", "thread_ts": "1.1"}},
     Kind.AGENT_EDIT),
    ("link preview is not an edit", {"type": "message", "subtype": "message_changed", "channel": "CQ",
                                     "message": {"user": "UA", "text": "same", "ts": "2.2", "thread_ts": "1.1"},
                                     "previous_message": {"user": "UA", "text": "same", "ts": "2.2",
                                                          "thread_ts": "1.1"}}, Kind.IGNORE),
    ("agent deletes a reply", {"type": "message", "subtype": "message_deleted", "channel": "CQ",
                               "deleted_ts": "2.2",
                               "previous_message": {"user": "UA", "text": "x", "ts": "2.2", "thread_ts": "1.1"}},
     Kind.AGENT_DELETE),
    ("our bot's post edited", {"type": "message", "subtype": "message_changed", "channel": "CQ",
                               "message": {"user": BOT, "bot_id": "BBOT", "text": "n", "ts": "2.2",
                                           "thread_ts": "1.1"}}, Kind.IGNORE),
    ("customer edits in a DM", {"type": "message", "subtype": "message_changed", "channel": "D1",
                                "channel_type": "im", "message": {"user": "U1", "text": "n", "ts": "2.2"}},
     Kind.IGNORE),
]


@pytest.mark.parametrize(("name", "event", "kind"), CASES, ids=[c[0] for c in CASES])
def test_classify(name, event, kind):
    assert events.classify(event, bot_user_id=BOT, customer_channels=CUSTOMER_CHANNELS).kind == kind


def test_customer_message_becomes_an_inbound_message_with_team_and_user_identity():
    body = {"team_id": "T0HOME", "event_id": "Ev1"}
    event = {"type": "message", "channel": "CSHARED", "user": "U1", "user_team": "T0GUEST", "text": "help",
             "ts": "1700000000.000100", "client_msg_id": "cm-9",
             "files": [{"name": "log.txt", "mimetype": "text/plain", "size": 12,
                        "permalink": "https://files.slack.test/log.txt"}]}
    inbound = events.to_inbound(body, event)
    assert inbound.identity.key == "slack:T0GUEST:U1"
    assert inbound.provider_id == "cm-9"
    assert inbound.attachments[0].url == "https://files.slack.test/log.txt"
    assert inbound.meta["slack_channel"] == "CSHARED"
    assert events.customer_thread(event, is_dm=False) == {"slack_customer_channel": "CSHARED",
                                                          "slack_customer_thread": "1700000000.000100"}
    assert events.customer_thread({"channel": "D1", "ts": "5.5"}, is_dm=True)["slack_customer_thread"] == ""


PLAIN = [
    ("see <https://x.test/a|the docs>", "see the docs (https://x.test/a)"),
    ("<https://x.test/a>", "https://x.test/a"),
    ("mail <mailto:a@b.test|a@b.test>", "mail a@b.test"),
    ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
    ("unclosed < bracket", "unclosed < bracket"),
]


@pytest.mark.parametrize(("slack", "plain"), PLAIN)
def test_agent_text_is_made_plain_for_the_customer(slack, plain):
    assert events.plain_text(slack) == plain


COMMANDS = [
    ("", commands.Command("help")),
    ("queue", commands.Command("queue")),
    ("queue support", commands.Command("queue", argument="support")),
    ("claim cnv_0123456789abcdefghjk", commands.Command("claim", "cnv_0123456789abcdefghjk")),
    ("escalate cnv_0123456789abcdefghjk customer is furious",
     commands.Command("escalate", "cnv_0123456789abcdefghjk", "customer is furious")),
    ("transfer cnv_0123456789abcdefghjk Service billing question",
     commands.Command("transfer", "cnv_0123456789abcdefghjk", "service billing question")),
    ("note cnv_0123456789abcdefghjk refund approved",
     commands.Command("note", "cnv_0123456789abcdefghjk", "refund approved")),
]


@pytest.mark.parametrize(("text", "command"), COMMANDS)
def test_parse_command(text, command):
    assert commands.parse(text) == command


@pytest.mark.parametrize("text", ["dance", "queue billing", "claim", "note cnv_0123456789abcdefghjk",
                                  "transfer cnv_0123456789abcdefghjk sales", "resolve 42"])
def test_bad_commands_say_what_is_wrong(text):
    with pytest.raises(commands.CommandError):
        commands.parse(text)
