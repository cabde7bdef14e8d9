"""Outbound email: the composed message, and what SMTP answers mean for delivery."""

from __future__ import annotations

from conversations.messages import OutboundMessage
from channels.email import threads
from channels.email.outbound import compose, reply_subject
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from tests.conftest import admin_headers
from tests.email.conftest import conversations, customer_mail, email_gateway, email_settings, smtp_send
from tests.support import free_port

SECRET = b"k" * 32


def outbound(**overrides) -> OutboundMessage:
    values = dict(message_id="msg_01", conversation_id="cnv_01", channel=Channel.EMAIL,
                  to=Identity(Channel.EMAIL, "ada@customer.example"), text="Line one\n\nLine <two>", author="Grace",
                  subject="Order 5", meta={threads.LAST_MESSAGE_ID: "c2@customer.example",
                                           threads.REFERENCES: "c1@customer.example"})
    values.update(overrides)
    return OutboundMessage(**values)


def test_compose_threads_the_reply_and_escapes_the_html():
    mail = compose(outbound(), from_address="support@example.com", domain="example.com", secret=SECRET)
    assert mail["Message-ID"] == "<msg_01@example.com>"
    assert mail["In-Reply-To"] == "<c2@customer.example>"
    assert mail["References"] == "<c1@customer.example> <c2@customer.example>"
    assert mail["Subject"] == "Re: Order 5"
    assert threads.conversation_from_address(str(mail["Reply-To"]), SECRET) == "cnv_01"
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "<p>Line one</p><p>Line &lt;two&gt;</p>" in html
    assert mail["Auto-Submitted"] is None


def test_automatic_mail_is_marked_auto_submitted():
    mail = compose(outbound(automatic=True), from_address="support@example.com", domain="example.com", secret=SECRET)
    assert mail["Auto-Submitted"] == "auto-replied"


def test_reply_subject_adds_re_once():
    assert reply_subject("Re: Order 5") == "Re: Order 5"
    assert reply_subject("AW: Bestellung") == "AW: Bestellung"
    assert reply_subject("Order 5") == "Re: Order 5"
    assert reply_subject(None) == "Your conversation with us"


def test_reply_addresses_verify_and_survive_lower_casing():
    address = threads.reply_address("support@example.com", "example.com", SECRET, "cnv_01abc")
    assert threads.conversation_from_address(address, SECRET) == "cnv_01abc"
    assert threads.conversation_from_address(address.upper(), SECRET) == "cnv_01abc"
    assert threads.conversation_from_address(address, b"other-secret") is None
    assert threads.conversation_from_address("support+cnv_01abd-" + address.split("-")[1], SECRET) is None


async def reply_and_deliver(client, text: str = "Answer") -> tuple[str, str]:
    [conversation_id] = await conversations(client)
    response = await client.post(f"/api/conversations/{conversation_id}/messages", json={"text": text},
                                 headers=admin_headers())
    message_id = (await response.json())["message"]["id"]
    await client.backend.drain_async()
    return conversation_id, message_id


async def test_a_refused_recipient_fails_at_once_with_the_servers_reason(mail_gateway, sink):
    sink.rcpt_answers["ada@customer.example"] = "550 5.1.1 <ada@customer.example>: mailbox unavailable"
    await smtp_send(mail_gateway, customer_mail("hello"))
    conversation_id, message_id = await reply_and_deliver(mail_gateway)
    message = await mail_gateway.app[SERVICES].store.message(conversation_id, message_id)
    assert message.delivery == "failed" and "mailbox unavailable" in message.delivery_error


async def test_a_deferred_recipient_is_retried_later(mail_gateway, sink):
    sink.rcpt_answers["ada@customer.example"] = "451 4.7.1 greylisted, try again later"
    await smtp_send(mail_gateway, customer_mail("hello"))
    conversation_id, message_id = await reply_and_deliver(mail_gateway)
    message = await mail_gateway.app[SERVICES].store.message(conversation_id, message_id)
    assert message.delivery == "queued" and "greylisted" in message.delivery_error


async def test_an_unreachable_smtp_server_is_retried_later(aiohttp_client, sink):
    client = await email_gateway(aiohttp_client, email_settings(free_port()))
    await smtp_send(client, customer_mail("hello"))
    conversation_id, message_id = await reply_and_deliver(client)
    message = await client.app[SERVICES].store.message(conversation_id, message_id)
    assert message.delivery == "queued" and "cannot reach the SMTP server" in message.delivery_error

