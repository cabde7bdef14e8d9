"""CSAT over email: real SMTP in (the gateway's listener) and out (the customer's sink).

Automatic mail (RFC 3834 Auto-Submitted, out-of-office, the email channel's own detection)
is never surveyed, and an auto-responder answering the survey never rates.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from conversations.clock import utcnow
from gateway.appkeys import SERVICES
from tests.csat_support import QUESTION, RULES, SCALE, agent_replies, assert_rated, events, questions, resolve, view
from tests.email.conftest import CORPUS, conversations, customer_mail, email_gateway, email_settings, smtp_send
from workers import context

ADA = "ada@customer.example"


@pytest.fixture
async def client(aiohttp_client, sink, tmp_path):
    rules = tmp_path / "routing.yaml"
    rules.write_text(RULES)
    client = await email_gateway(aiohttp_client, email_settings(sink.port, rules_path=rules))
    yield client
    context.install(None)


async def test_an_email_customer_is_asked_by_mail_and_the_answer_rates(client, sink):
    await smtp_send(client, customer_mail("My order did not arrive"))
    [conversation_id] = await conversations(client)
    await agent_replies(client, conversation_id)
    await resolve(client, conversation_id)
    await client.backend.drain_async()
    survey = [mail for mail in sink.to(ADA) if QUESTION in mail.text()]
    assert len(survey) == 1 and survey[0].text().strip() == f"{QUESTION}\n{SCALE}"
    assert survey[0]["Auto-Submitted"] == "auto-replied"  # no auto-responder answers it

    quoted = "On Mon, 2 Mar 2026 at 09:00, Support <support@example.com> wrote:\n> How did we do today?"
    answer = customer_mail(f"5 Thank you!\n\n{quoted}", subject="Re: survey", to=survey[0]["Reply-To"],
                           in_reply_to=survey[0]["Message-ID"])
    await smtp_send(client, answer, recipients=[survey[0]["Reply-To"]])
    await assert_rated(client, conversation_id, "5", "Thank you!")


@pytest.mark.parametrize("automatic", [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated", "Subject": "Delivery report"},
])
async def test_automatic_mail_is_never_surveyed(client, sink, automatic):
    headers = {k: v for k, v in automatic.items() if k != "Subject"}
    await smtp_send(client, customer_mail("We received your message.", headers=headers,
                                          subject=automatic.get("Subject", "Automatic reply: order")))
    [conversation_id] = await conversations(client)
    await resolve(client, conversation_id)
    await client.backend.drain_async()
    shown = await view(client, conversation_id)
    assert questions(shown) == [] and events(shown, "csat_sent") == []
    assert [mail for mail in sink.messages if QUESTION in mail.text()] == []


async def test_an_out_of_office_after_a_human_message_is_not_surveyed(client, sink):
    await smtp_send(client, customer_mail("My order did not arrive", sender="Priya <priya@partner.example>"),
                    sender="priya@partner.example")
    await smtp_send(client, (CORPUS / "out_of_office.eml").read_bytes(), sender="priya@partner.example")
    [conversation_id] = await conversations(client)
    await resolve(client, conversation_id)
    await client.backend.drain_async()
    assert questions(await view(client, conversation_id)) == []


async def test_an_auto_responder_answering_the_survey_does_not_rate(client, sink):
    await smtp_send(client, customer_mail("My order did not arrive"))
    [conversation_id] = await conversations(client)
    await resolve(client, conversation_id)
    await client.backend.drain_async()
    [survey] = [mail for mail in sink.to(ADA) if QUESTION in mail.text()]
    auto = customer_mail("5 days away, back on Monday.", subject="Automatic reply: survey", to=survey["Reply-To"],
                         in_reply_to=survey["Message-ID"], headers={"Auto-Submitted": "auto-replied"})
    await smtp_send(client, auto, recipients=[survey["Reply-To"]])
    shown = await view(client, conversation_id)
    assert "csat_rating" not in shown["conversation"]["extra"] and events(shown, "csat_rated") == []


async def test_each_conversation_of_one_address_is_surveyed_even_within_four_days(client, sink):
    # RFC 3834's "the same automatic text to one address once in 4 days" guards against loops with
    # auto-responders; a survey is asked once per conversation on an agent's resolve, so it is exempt.
    services = client.app[SERVICES]
    for day in (0, 8):  # past the 7-day reopen window (driven clock): the second mail opens a new conversation
        services.service.clock = lambda day=day: utcnow() + timedelta(days=day)
        await smtp_send(client, customer_mail(f"Question number {day}", subject=f"Order {day}"))
        conversation_id = (await conversations(client))[0]
        await resolve(client, conversation_id)
        await client.backend.drain_async()
    assert len(await conversations(client)) == 2
    assert len([mail for mail in sink.to(ADA) if QUESTION in mail.text()]) == 2
