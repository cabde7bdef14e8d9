"""The full original one request away, and routing on the new words only: real SMTP, real ingest, real rules."""

from __future__ import annotations

import pytest

from conversations.models import Direction
from gateway.appkeys import SERVICES
from tests.conftest import admin_headers
from tests.email.conftest import conversations, customer_mail, email_gateway, email_settings, smtp_send, timeline
from workers import context

REPLY = """Please refund the second order.

-- 
Dana Reyes
Billing department | Contoso
+44 20 7946 0000

On Mon, 3 Mar 2025 at 10:15, Example Support <support@example.com> wrote:
> Your invoice for both orders is attached.
"""
RULES = """
queues:
  service: {}
  support: {}
rules:
  - name: refunds
    when: {content: [refund]}
    then: {queue: support}
  - name: billing
    when: {content: [billing, invoice]}
    then: {queue: support}
default:
  queue: service
"""


@pytest.fixture
async def routed_gateway(aiohttp_client, sink, tmp_path):
    rules = tmp_path / "routing.yaml"
    rules.write_text(RULES)
    client = await email_gateway(aiohttp_client, email_settings(sink.port, rules_path=rules))
    yield client
    context.install(None)


async def _only_inbound(client):
    [conversation_id] = await conversations(client)
    [message] = await timeline(client, conversation_id, Direction.INBOUND)
    return conversation_id, message


async def test_original_endpoint_returns_the_whole_mail_its_parts_and_what_was_split_off(mail_gateway):
    mail = customer_mail(REPLY, subject="Re: Two orders")
    mail.add_alternative("<p>Please refund the second order.</p><blockquote>Your invoice</blockquote>",
                         subtype="html")
    await smtp_send(mail_gateway, mail)
    conversation_id, message = await _only_inbound(mail_gateway)
    assert message.text == "Please refund the second order."

    response = await mail_gateway.get(f"/api/conversations/{conversation_id}/messages/{message.id}/original",
                                      headers=admin_headers())
    assert response.status == 200
    original = await response.json()
    assert original["new_text"] == "Please refund the second order."
    assert "> Your invoice for both orders is attached." in original["text"]
    assert original["signature"] == "Dana Reyes\nBilling department | Contoso\n+44 20 7946 0000"
    assert original["subject"] == "Re: Two orders"
    assert "Subject: Re: Two orders" in original["headers"]
    assert [part["content_type"] for part in original["parts"]] == ["text/plain", "text/html"]
    assert "On Mon, 3 Mar 2025" in original["parts"][0]["text"]
    assert "<blockquote>Your invoice</blockquote>" in original["parts"][1]["text"]


async def test_original_endpoint_needs_the_admin_token(mail_gateway):
    await smtp_send(mail_gateway, customer_mail(REPLY))
    conversation_id, message = await _only_inbound(mail_gateway)
    path = f"/api/conversations/{conversation_id}/messages/{message.id}/original"
    assert (await mail_gateway.get(path)).status == 401
    assert (await mail_gateway.get(path, headers={"Authorization": "Bearer wrong"})).status == 401
    missing = await mail_gateway.get(f"/api/conversations/{conversation_id}/messages/msg_missing/original",
                                     headers=admin_headers())
    assert missing.status == 404


async def test_a_word_in_the_quoted_history_or_the_signature_does_not_route(routed_gateway):
    mail = customer_mail("Thanks, the parcel arrived.\n\n-- \nDana Reyes\nBilling department | Contoso\n\n"
                         "On Mon, 3 Mar 2025 at 10:15, Example Support <support@example.com> wrote:\n"
                         "> Your refund for the invoice was sent.\n", subject="Re: Parcel")
    await smtp_send(routed_gateway, mail)
    conversation_id, message = await _only_inbound(routed_gateway)
    conversation = await _conversation(routed_gateway, conversation_id)
    assert message.text == "Thanks, the parcel arrived."
    assert (conversation.queue, conversation.rule) == ("service", "default")


async def test_the_same_word_in_the_new_words_routes(routed_gateway):
    mail = customer_mail("I want a refund for the parcel.\n\n"
                         "On Mon, 3 Mar 2025 at 10:15, Example Support <support@example.com> wrote:\n"
                         "> Your parcel was sent.\n", subject="Re: Parcel")
    await smtp_send(routed_gateway, mail)
    conversation_id, _ = await _only_inbound(routed_gateway)
    conversation = await _conversation(routed_gateway, conversation_id)
    assert (conversation.queue, conversation.rule) == ("support", "refunds")


async def _conversation(client, conversation_id: str):
    return await client.app[SERVICES].store.conversation(conversation_id)
