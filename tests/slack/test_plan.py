"""How the thread shows a timeline: coalescing, echo suppression, delivery notices (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.slack import blocks, console
from conversations.models import Channel, DeliveryStatus, Direction, Message

NOW = datetime(2026, 11, 23, tzinfo=UTC)
THREAD = ("CQ", "1.1")


def message(i: int, direction: Direction = Direction.INBOUND, **fields) -> Message:
    default = None if direction in (Direction.NOTE, Direction.EVENT) else Channel.WEBCHAT
    return Message(id=f"msg_{i}", conversation_id="cnv_1", direction=direction, channel=fields.pop("channel", default),
                   author=fields.pop("author", "Ada"), text=fields.pop("text", f"message {i}"), created_at=NOW,
                   **fields)


def plan(messages, start=0, shown=None, **limits):
    return console.plan_posts(messages, start, thread=THREAD, shown=shown or set(), **limits)


def test_a_burst_of_customer_messages_is_coalesced_in_order():
    posts = plan([message(i) for i in range(25)], max_items=10)
    assert [p.end for p in posts] == [10, 20, 25]
    assert posts[0].text.splitlines()[:2] == ["*Ada* (webchat):", "> message 0"]
    assert "message 24" in posts[2].text


def test_posting_resumes_at_the_cursor():
    posts = plan([message(i) for i in range(5)], start=3)
    assert len(posts) == 1 and "message 2" not in posts[0].text and "message 4" in posts[0].text


def test_an_agent_reply_typed_in_this_thread_is_not_echoed_but_its_delivery_is_shown():
    reply = message(1, Direction.OUTBOUND, author="Grace", text="on it", delivery=DeliveryStatus.DELIVERED,
                    meta={blocks.AGENT_CHANNEL: "CQ", blocks.AGENT_THREAD: "1.1"})
    [post] = plan([reply])
    assert "replied" not in post.text
    assert post.text == ":heavy_check_mark: Delivered (webchat): “on it”" and post.notices == ("msg_1:ok",)


def test_a_reply_from_elsewhere_is_echoed_and_a_failure_shows_the_reason():
    reply = message(1, Direction.OUTBOUND, author="Grace", text="hello", delivery=DeliveryStatus.FAILED,
                    delivery_error="21610 unsubscribed recipient", meta={})
    [post] = plan([reply])
    assert "*Grace* replied (webchat): hello" in post.text
    assert "Not delivered (webchat): “hello”: 21610 unsubscribed recipient" in post.text


def test_a_delivery_that_settles_later_gets_one_notice():
    reply = message(1, Direction.OUTBOUND, author="Grace", text="hi", delivery=DeliveryStatus.SENDING)
    assert console.plan_notices([reply], 1, set()) is None
    done = message(1, Direction.OUTBOUND, author="Grace", text="hi", delivery=DeliveryStatus.SENT)
    late = console.plan_notices([done], 1, set())
    assert late is not None and late.notices == ("msg_1:ok",)
    assert console.plan_notices([done], 1, {"msg_1:ok"}) is None


def test_customer_text_cannot_ping_the_channel_and_long_texts_are_cut_with_a_button():
    [post] = plan([message(1, text="<!channel> " + "x" * 3000)])
    assert "<!channel>" not in post.text and "&lt;!channel&gt;" in post.text
    assert post.text.endswith("…") and len(post.text) < 1700
    assert "/api/" not in post.text  # no link to the token-protected admin API (401 for agents)
    [button] = post.blocks[-1]["elements"]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        "gw_full_message", "cnv_1 msg_1", "Show full message")


def test_an_email_with_quoted_history_gets_its_own_post_with_the_signature_collapsed_and_a_button():
    mail = message(2, text="Please refund the second order.", channel=Channel.EMAIL,
                   meta={"full_text": "Please refund the second order.\n\n-- \nDana\n+44 20 7946 0000\n\n"
                                      "On Mon … wrote:\n> Your invoice", "signature": "Dana\n+44 20 7946 0000"})
    posts = plan([message(1), mail, message(3)])
    assert [(p.end, p.text) for p in posts] == [
        (1, "*Ada* (webchat):\n> message 1"), (2, "*Ada* (email):\n> Please refund the second order."),
        (3, "*Ada* (webchat):\n> message 3")]
    section, signature, actions = posts[1].blocks
    assert section["text"]["text"] == "*Ada* (email):\n> Please refund the second order."
    assert signature["elements"][0]["text"] == "Signature: Dana · +44 20 7946 0000"
    assert actions["elements"][0]["text"]["text"] == "Show full email"
    assert actions["elements"][0]["value"] == "cnv_1 msg_2"
    assert not posts[0].blocks and not posts[2].blocks


def test_the_full_email_text_keeps_the_quoted_history_and_stays_escaped():
    mail = message(2, text="Yes", channel=Channel.EMAIL,
                   meta={"full_text": "Yes\n\nOn Mon … wrote:\n> <!channel> old text", "subject": "Re: Order"})
    [text] = blocks.original_text(mail)
    assert text.splitlines()[0] == "*Full email from Ada* — Re: Order"
    assert "&gt; &lt;!channel&gt; old text" in text and "<!channel>" not in text


def test_notes_and_events_are_shown():
    [post] = plan([message(1, Direction.NOTE, author="Grace", text="VIP"),
                   message(2, Direction.EVENT, author="gateway", text="SLA first response breached",
                           kind="sla_breach")])
    assert post.text.splitlines() == [":memo: *Note by Grace:* VIP",
                                      ":rotating_light: SLA first response breached"]
