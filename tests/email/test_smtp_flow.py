"""Email end to end over real SMTP: customer → our listener → conversation → agent reply → customer's sink → reply."""

from __future__ import annotations

import asyncio
import smtplib

import aiosmtplib
import pytest

from gateway.appkeys import SERVICES
from tests.conftest import admin_headers
from tests.email.conftest import SUPPORT, conversations, customer_mail, smtp_send, timeline

QUOTED = """Thanks, a replacement would be great.

On Mon, 3 Nov 2025 at 10:02, Example Support <support@example.com> wrote:
> Sorry to hear that! Shall we send a replacement or refund you?
>
> Grace
"""


async def agent_reply(client, conversation_id: str, text: str, **body) -> dict:
    response = await client.post(f"/api/conversations/{conversation_id}/messages",
                                 json={"text": text, "author": "Grace", **body}, headers=admin_headers())
    assert response.status == 201, await response.text()
    return (await response.json())["message"]


async def test_email_sent_by_smtp_opens_a_conversation_with_the_quote_stripped(mail_gateway):
    await smtp_send(mail_gateway, customer_mail(QUOTED, subject="Re: Order 1042 arrived damaged"))
    [conversation_id] = await conversations(mail_gateway)
    [message] = await timeline(mail_gateway, conversation_id, "inbound")
    assert message.channel == "email"
    assert message.text == "Thanks, a replacement would be great."
    assert "Sorry to hear that!" in message.meta["full_text"]
    assert message.meta["subject"] == "Re: Order 1042 arrived damaged"
    assert message.author == "Ada Lovelace"
    conversation = await mail_gateway.app[SERVICES].store.conversation(conversation_id)
    assert conversation.subject == "Re: Order 1042 arrived damaged"


async def test_plain_smtplib_client_is_accepted_too(mail_gateway):
    def send() -> dict:
        with smtplib.SMTP("127.0.0.1", mail_gateway.smtp_port, timeout=10) as smtp:
            return smtp.send_message(customer_mail("Hello from smtplib"), from_addr="ada@customer.example",
                                     to_addrs=[SUPPORT])

    assert await asyncio.to_thread(send) == {}
    [conversation_id] = await conversations(mail_gateway)
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["Hello from smtplib"]


async def test_agent_reply_reaches_the_customer_threaded_and_the_reply_to_it_lands_in_the_same_conversation(
    mail_gateway, sink,
):
    first = customer_mail("Where is my parcel?", subject="Parcel 77", message_id="<first-77@customer.example>")
    await smtp_send(mail_gateway, first)
    [conversation_id] = await conversations(mail_gateway)
    reply = await agent_reply(mail_gateway, conversation_id, "It left our warehouse today.\n\nGrace")
    await mail_gateway.backend.drain_async()

    [received] = sink.to("ada@customer.example")
    assert received.mail_from == SUPPORT
    assert received["In-Reply-To"] == "<first-77@customer.example>"
    assert received["References"] == "<first-77@customer.example>"
    assert received["Subject"] == "Re: Parcel 77"
    assert received["Message-ID"] == f"<{reply['id']}@example.com>"
    assert received["Reply-To"].startswith(f"support+{conversation_id}-") and received["Reply-To"].endswith("@example.com")
    assert received["Auto-Submitted"] is None
    assert received.text().strip() == "It left our warehouse today.\n\nGrace"
    assert "<p>It left our warehouse today.</p>" in received.html()
    sent = await mail_gateway.app[SERVICES].store.message(conversation_id, reply["id"])
    assert sent.delivery == "sent"

    # The customer answers from their client with a new subject, to the Reply-To address.
    answer = customer_mail("Great, thanks!\n\n> It left our warehouse today.", subject="New subject entirely",
                           to=received["Reply-To"], in_reply_to=received["Message-ID"],
                           references=f"<first-77@customer.example> {received['Message-ID']}")
    await smtp_send(mail_gateway, answer, recipients=[received["Reply-To"]])
    assert await conversations(mail_gateway) == [conversation_id]
    texts = [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")]
    assert texts == ["Where is my parcel?", "Great, thanks!"]


async def test_a_reply_to_a_resolved_conversation_past_the_window_reopens_it_by_its_headers(
    aiohttp_client, sink,
):
    from datetime import timedelta

    from tests.email.conftest import email_gateway, email_settings

    client = await email_gateway(aiohttp_client, email_settings(sink.port, reopen_window=timedelta(0)))
    await smtp_send(client, customer_mail("Order question", message_id="<q1@customer.example>"))
    [conversation_id] = await conversations(client)
    await agent_reply(client, conversation_id, "Answered.")
    await client.backend.drain_async()
    await client.post(f"/api/conversations/{conversation_id}/resolve", json={}, headers=admin_headers())
    [ours] = sink.messages
    # Headers dropped by the client, subject changed: only the reply address ties it to the conversation.
    await smtp_send(client, customer_mail("One more thing", subject="Another topic", to=ours["Reply-To"]),
                    recipients=[ours["Reply-To"]])
    assert await conversations(client) == [conversation_id]
    conversation = await client.app[SERVICES].store.conversation(conversation_id)
    assert conversation.status == "open" and conversation.reopen_count == 1


async def test_a_new_mail_without_thread_facts_after_the_window_opens_a_new_conversation(aiohttp_client, sink):
    from datetime import timedelta

    from tests.email.conftest import email_gateway, email_settings

    client = await email_gateway(aiohttp_client, email_settings(sink.port, reopen_window=timedelta(0)))
    await smtp_send(client, customer_mail("First problem"))
    [first] = await conversations(client)
    await client.post(f"/api/conversations/{first}/resolve", json={}, headers=admin_headers())
    await smtp_send(client, customer_mail("A different problem", subject="Other"))
    assert len(await conversations(client)) == 2


async def test_the_same_message_id_twice_stores_one_message(mail_gateway):
    mail = customer_mail("Only once", message_id="<dup-1@customer.example>")
    await smtp_send(mail_gateway, mail)
    await smtp_send(mail_gateway, mail)
    [conversation_id] = await conversations(mail_gateway)
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["Only once"]


async def test_mail_for_other_domains_is_refused_no_open_relay(mail_gateway):
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await smtp_send(mail_gateway, customer_mail("relay me", to="victim@elsewhere.example"),
                        recipients=["victim@elsewhere.example"])
    assert refused.value.recipients[0].code == 550
    assert await conversations(mail_gateway) == []


async def test_mail_over_the_size_limit_is_refused_with_552(mail_gateway):
    big = customer_mail("x" * (70 * 1024))
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await smtp_send(mail_gateway, big)
    assert refused.value.code == 552
    assert await conversations(mail_gateway) == []


async def test_storage_failure_answers_451_so_the_sender_retries(mail_gateway):
    mail_gateway.backend.fake_server.connected = False
    try:
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await smtp_send(mail_gateway, customer_mail("please keep me"))
        assert refused.value.code == 451
    finally:
        mail_gateway.backend.fake_server.connected = True
    await smtp_send(mail_gateway, customer_mail("please keep me", message_id="<retry@customer.example>"))
    assert len(await conversations(mail_gateway)) == 1


async def test_another_customer_quoting_our_thread_never_joins_it(mail_gateway, sink):
    await smtp_send(mail_gateway, customer_mail("Ada's private order question", subject="Invoice 12",
                                                message_id="<ada-1@customer.example>"))
    [ada_conversation] = await conversations(mail_gateway)
    await agent_reply(mail_gateway, ada_conversation, "Ada, your invoice is attached.")
    await mail_gateway.backend.drain_async()
    [ours] = sink.messages

    # Bob got the mail forwarded and answers it: same subject, same references, Ada's reply address.
    bob = customer_mail("Is this mine?", sender="bob@other.example", subject="Re: Invoice 12", to=ours["Reply-To"],
                        in_reply_to=ours["Message-ID"], references=f"<ada-1@customer.example> {ours['Message-ID']}")
    await smtp_send(mail_gateway, bob, sender="bob@other.example", recipients=[ours["Reply-To"]])
    ids = await conversations(mail_gateway)
    assert len(ids) == 2
    bob_conversation = next(c for c in ids if c != ada_conversation)
    assert [m.text for m in await timeline(mail_gateway, ada_conversation, "inbound")] == [
        "Ada's private order question"]
    [bob_message] = await timeline(mail_gateway, bob_conversation, "inbound")
    assert bob_message.text == "Is this mine?" and "thread_conversation" not in bob_message.meta


async def test_a_forged_reply_address_is_just_an_address(mail_gateway):
    await smtp_send(mail_gateway, customer_mail("hi", to="support+cnv_0000000000aaaaaaaaaaaa-zzzzzzzzzz@example.com"),
                    recipients=["support+cnv_0000000000aaaaaaaaaaaa-zzzzzzzzzz@example.com"])
    [conversation_id] = await conversations(mail_gateway)
    [message] = await timeline(mail_gateway, conversation_id, "inbound")
    assert "thread_conversation" not in message.meta


async def test_a_reply_after_its_customer_was_merged_still_threads_to_the_conversation_it_answers(
    mail_gateway, sink,
):
    """Threading follows a customer merge: the sender's address now belongs to the surviving customer,
    and so does the conversation our mail came from, so the reply is matched to it, never to a new one."""
    store = mail_gateway.app[SERVICES].store
    await smtp_send(mail_gateway, customer_mail("Bob's older question", sender="bob@other.example", subject="Bob"),
                    sender="bob@other.example")
    [bob_conversation] = await conversations(mail_gateway)
    bob = (await store.conversation(bob_conversation)).customer_id
    await smtp_send(mail_gateway, customer_mail("Ada's order question", message_id="<ada-q@customer.example>"))
    ada_conversation = next(c for c in await conversations(mail_gateway) if c != bob_conversation)
    await agent_reply(mail_gateway, ada_conversation, "Which order?")
    await mail_gateway.backend.drain_async()
    [ours] = sink.messages

    # The agent learns both addresses are one person: Ada's address joins Bob's (older) customer.
    response = await mail_gateway.post(f"/api/customers/{bob}/identities",
                                       json={"channel": "email", "address": "ada@customer.example"},
                                       headers=admin_headers())
    assert response.status == 200, await response.text()
    assert (await store.conversation(ada_conversation)).customer_id == bob

    reply = customer_mail("Order 4411", subject="Re: My order did not arrive", in_reply_to=ours["Message-ID"],
                          references=f"<ada-q@customer.example> {ours['Message-ID']}")
    live = await conversations(mail_gateway)
    await smtp_send(mail_gateway, reply)
    assert await conversations(mail_gateway) == live  # no new conversation
    stored = [m for c in (bob_conversation, ada_conversation) for m in await timeline(mail_gateway, c, "inbound")
              if m.text == "Order 4411"]
    assert len(stored) == 1 and stored[0].meta["thread_conversation"] == ada_conversation
