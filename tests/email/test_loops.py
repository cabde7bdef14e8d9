"""Loop protection over real SMTP: automatic mail gets no automatic answer, bounces become delivery failures."""

from __future__ import annotations

from gateway.appkeys import SERVICES
from tests.conftest import admin_headers
from tests.email.conftest import (
    AUTO_REPLY,
    CORPUS,
    conversations,
    customer_mail,
    smtp_send,
    smtp_send_null_sender,
    timeline,
)

BOT = "bot@autoresponder.example"


async def test_a_new_customer_gets_the_rule_auto_reply_marked_auto_submitted(auto_reply_gateway, sink):
    await smtp_send(auto_reply_gateway, customer_mail("Hello, I need help", subject="Help"))
    await auto_reply_gateway.backend.drain_async()
    [ack] = sink.to("ada@customer.example")
    assert ack.text().strip() == AUTO_REPLY
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["Subject"] == "Re: Help"


async def test_an_out_of_office_reply_gets_no_automatic_answer(auto_reply_gateway, sink):
    raw = (CORPUS / "out_of_office.eml").read_bytes()
    await smtp_send(auto_reply_gateway, raw, sender="priya@partner.example")
    await auto_reply_gateway.backend.drain_async()
    assert sink.messages == []
    [conversation_id] = await conversations(auto_reply_gateway)
    [stored] = await timeline(auto_reply_gateway, conversation_id, "inbound")
    assert stored.meta["automatic"] == "1" and stored.meta["automatic_reason"] == "Auto-Submitted: auto-replied"
    assert await timeline(auto_reply_gateway, conversation_id, "outbound") == []


async def test_mailing_list_and_null_sender_mail_get_no_automatic_answer(auto_reply_gateway, sink):
    await smtp_send(auto_reply_gateway, (CORPUS / "mailing_list.eml").read_bytes(), sender="noreply@lists.example.org")
    await smtp_send_null_sender(auto_reply_gateway, customer_mail("hi", sender="someone@else.example"))
    await auto_reply_gateway.backend.drain_async()
    assert sink.messages == []
    assert len(await conversations(auto_reply_gateway)) == 2


async def test_two_autoresponders_facing_each_other_stop_after_one_exchange(auto_reply_gateway, sink):
    # A bot whose first mail looks human gets our acknowledgement ...
    await smtp_send(auto_reply_gateway, customer_mail("Ticket #991 created", sender=BOT, subject="Ticket #991"),
                    sender=BOT)
    await auto_reply_gateway.backend.drain_async()
    [ours] = sink.to(BOT)
    assert ours["Auto-Submitted"] == "auto-replied"

    # ... and its autoresponder answers ours: marked, and then unmarked (a careless bot).
    for headers in ({"Auto-Submitted": "auto-replied"}, {}):
        answer = customer_mail("We received your message (ticket #992).", sender=BOT, subject="Re: Ticket #991",
                               to=ours["Reply-To"], in_reply_to=ours["Message-ID"], headers=headers)
        await smtp_send(auto_reply_gateway, answer, sender=BOT, recipients=[ours["Reply-To"]])
        await auto_reply_gateway.backend.drain_async()
    assert len(sink.to(BOT)) == 1
    [conversation_id] = await conversations(auto_reply_gateway)
    assert len(await timeline(auto_reply_gateway, conversation_id, "inbound")) == 3
    assert len(await timeline(auto_reply_gateway, conversation_id, "outbound")) == 1


async def test_the_same_automatic_answer_is_not_sent_twice_to_one_address(auto_reply_gateway, sink):
    # Even when the conversation is resolved and the bot's next mail reopens it.
    await smtp_send(auto_reply_gateway, customer_mail("Ticket #1 created", sender=BOT), sender=BOT)
    await auto_reply_gateway.backend.drain_async()
    [conversation_id] = await conversations(auto_reply_gateway)
    await auto_reply_gateway.post(f"/api/conversations/{conversation_id}/resolve", json={}, headers=admin_headers())
    await smtp_send(auto_reply_gateway, customer_mail("Ticket #2 created", sender=BOT), sender=BOT)
    await auto_reply_gateway.backend.drain_async()
    assert len(sink.to(BOT)) == 1
    [first, second] = await timeline(auto_reply_gateway, conversation_id, "outbound")
    assert first.delivery == "sent"
    assert second.delivery == "failed" and "RFC 3834" in second.delivery_error


async def test_a_bounce_marks_our_message_failed_and_is_not_a_customer_message(mail_gateway, sink):
    sink.rcpt_answers = {}
    await smtp_send(mail_gateway, customer_mail("Please call me back", sender="nobody@customer.example"),
                    sender="nobody@customer.example")
    [conversation_id] = await conversations(mail_gateway)
    response = await mail_gateway.post(f"/api/conversations/{conversation_id}/messages",
                                       json={"text": "We tried to call."}, headers=admin_headers())
    reply_id = (await response.json())["message"]["id"]
    await mail_gateway.backend.drain_async()

    # The customer's server later bounces it (asynchronous bounce, after our SMTP server accepted it).
    dsn = (CORPUS / "dsn_bounce.eml").read_bytes().replace(
        b"msg_bounced0000000000000000@example.com", f"{reply_id}@example.com".encode())
    await smtp_send_null_sender(mail_gateway, dsn)
    bounced = await mail_gateway.app[SERVICES].store.message(conversation_id, reply_id)
    assert bounced.delivery == "failed"
    assert "5.1.1" in bounced.delivery_error and "User unknown" in bounced.delivery_error
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["Please call me back"]
    assert await conversations(mail_gateway) == [conversation_id]


async def test_a_bounce_of_an_unknown_message_is_accepted_and_dropped(mail_gateway):
    await smtp_send_null_sender(mail_gateway, (CORPUS / "dsn_bounce.eml").read_bytes())
    assert await conversations(mail_gateway) == []


async def test_our_own_mail_coming_back_is_dropped(mail_gateway):
    await smtp_send(mail_gateway, customer_mail("looped", sender="support@example.com"), sender="support@example.com")
    assert await conversations(mail_gateway) == []
