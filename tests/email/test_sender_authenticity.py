"""A forged From: kept, flagged, and never in the claimed customer's conversation.

The receiving MTA (here: the test, writing what Postfix + OpenDMARC would)
prepends ``Authentication-Results: mx.example.com; ...``; the gateway trusts
that authserv-id only (``GATEWAY_EMAIL__TRUST_AUTHENTICATION_RESULTS``).
"""

from __future__ import annotations

import pytest

from channels.email import authresults
from gateway.appkeys import SERVICES
from tests.conftest import admin_headers
from tests.email.conftest import conversations, customer_mail, email_gateway, email_settings, smtp_send, timeline
from workers import context

OURS = "mx.example.com"
PASS = f"{OURS}; spf=pass smtp.mailfrom=customer.example; dkim=pass header.d=customer.example; dmarc=pass"
FAIL = f"{OURS}; spf=fail smtp.mailfrom=evil.example; dkim=none; dmarc=fail (p=none dis=none) header.from=customer.example"


@pytest.fixture
async def checked_gateway(aiohttp_client, sink):
    client = await email_gateway(aiohttp_client, email_settings(
        sink.port, email={"trust_authentication_results": OURS}))
    yield client
    context.install(None)


def with_results(mail, *values: str):
    """The mail as our MTA hands it on: its Authentication-Results on top, above the sender's headers."""
    raw = mail.as_bytes()
    return b"".join(f"Authentication-Results: {v}\r\n".encode() for v in values) + raw


async def test_a_mail_failing_dmarc_opens_its_own_flagged_conversation(checked_gateway, sink):
    client = checked_gateway
    await smtp_send(client, with_results(customer_mail("My order 1042 is late", message_id="<ada-1@customer.example>"),
                                         PASS))
    [ada_conversation] = await conversations(client)
    await client.post(f"/api/conversations/{ada_conversation}/messages", json={"text": "On its way.", "author": "Grace"},
                      headers=admin_headers())
    await client.backend.drain_async()
    [ours] = sink.messages

    # Eve writes "from" Ada, answering our mail: reply address, In-Reply-To and all.
    forged = customer_mail("Please send the refund to IBAN XX00 EVIL", to=ours["Reply-To"],
                           in_reply_to=ours["Message-ID"], references=f"<ada-1@customer.example> {ours['Message-ID']}")
    await smtp_send(client, with_results(forged, FAIL), recipients=[ours["Reply-To"]])

    ids = await conversations(client)
    assert len(ids) == 2
    [flagged] = [c for c in ids if c != ada_conversation]
    assert [m.text for m in await timeline(client, ada_conversation, "inbound")] == ["My order 1042 is late"]
    response = await client.get(f"/api/conversations/{flagged}", headers=admin_headers())
    shown = await response.json()
    [message] = [m for m in shown["messages"] if m["direction"] == "inbound"]
    assert message["text"] == "Please send the refund to IBAN XX00 EVIL"
    assert message["meta"]["sender_unverified"] == f"dmarc=fail ({OURS})"
    assert "thread_conversation" not in message["meta"]
    assert shown["conversation"]["extra"]["sender_unverified"] == f"dmarc=fail ({OURS})"
    store = client.app[SERVICES].store
    flagged_customer = await store.customer((await store.conversation(flagged)).customer_id)
    assert [i.key for i in flagged_customer.identities] == ["email:unverified:ada@customer.example"]
    ada = await store.customer((await store.conversation(ada_conversation)).customer_id)
    assert [i.key for i in ada.identities] == ["email:ada@customer.example"]


async def test_an_agent_can_still_answer_the_claimed_address(checked_gateway, sink):
    client = checked_gateway
    await smtp_send(client, with_results(customer_mail("forwarded by a list, DMARC broke"), FAIL))
    [conversation_id] = await conversations(client)
    response = await client.post(f"/api/conversations/{conversation_id}/messages",
                                 json={"text": "Did you write this?", "author": "Grace"}, headers=admin_headers())
    assert response.status == 201
    await client.backend.drain_async()
    [received] = sink.to("ada@customer.example")
    assert received["To"] == "ada@customer.example"


async def test_a_forged_pass_below_our_own_header_changes_nothing(checked_gateway):
    client = checked_gateway
    # The sender wrote a "pass" under our authserv-id; our MTA's header is above it and says fail.
    await smtp_send(client, with_results(customer_mail("trust me"), FAIL, PASS))
    [conversation_id] = await conversations(client)
    [message] = await timeline(client, conversation_id, "inbound")
    assert message.meta["sender_unverified"].startswith("dmarc=fail")


async def test_results_of_other_servers_and_unconfigured_gateways_are_not_believed(checked_gateway, aiohttp_client,
                                                                                    sink):
    client = checked_gateway
    await smtp_send(client, with_results(customer_mail("relayed"), "mx.elsewhere.example; dmarc=fail"))
    [conversation_id] = await conversations(client)
    [message] = await timeline(client, conversation_id, "inbound")
    assert "sender_unverified" not in message.meta

    unconfigured = await email_gateway(aiohttp_client, email_settings(sink.port))
    await smtp_send(unconfigured, with_results(customer_mail("no trust configured"), FAIL))
    [conversation_id] = await conversations(unconfigured)
    [message] = await timeline(unconfigured, conversation_id, "inbound")
    assert "sender_unverified" not in message.meta


async def test_no_automatic_answer_goes_to_an_unverified_address(aiohttp_client, sink, tmp_path):
    from tests.email.conftest import RULES_WITH_AUTO_REPLY

    rules = tmp_path / "routing.yaml"
    rules.write_text(RULES_WITH_AUTO_REPLY)
    client = await email_gateway(aiohttp_client, email_settings(
        sink.port, rules_path=rules, email={"trust_authentication_results": OURS}))
    try:
        await smtp_send(client, with_results(customer_mail("backscatter me"), FAIL))
        await client.backend.drain_async()
        assert sink.to("ada@customer.example") == []
        [conversation_id] = await conversations(client)
        [auto] = await timeline(client, conversation_id, "outbound")
        assert auto.delivery == "failed" and "DMARC" in (auto.delivery_error or "")
    finally:
        context.install(None)


RESULTS = [
    (FAIL, (OURS, "fail")),
    (PASS, (OURS, "pass")),
    ("MX.Example.COM 1; dmarc = fail (p=reject) header.from=x", (OURS, "fail")),
    ("mx.example.com; dkim=pass (good (nested) comment; dmarc=pass) header.d=x; dmarc=fail", (OURS, "fail")),
    ('mx.example.com; dmarc=pass reason="x; dmarc=fail"', (OURS, "pass")),
    ("mx.example.com; none", (OURS, None)),
    ("mx.example.com; dmarc/1=temperror", (OURS, "temperror")),
    ("", ("", None)),
    (";;;", ("", None)),
]


@pytest.mark.parametrize(("value", "expected"), RESULTS)
def test_authentication_results_are_read_as_rfc_8601_writes_them(value, expected):
    authserv, results = authresults.parse(value)
    assert (authserv, results.get("dmarc")) == expected


def test_only_the_topmost_trusted_header_decides():
    assert authresults.dmarc_failure([FAIL, PASS], {OURS}) == f"dmarc=fail ({OURS})"
    assert authresults.dmarc_failure([PASS, FAIL], {OURS}) is None
    assert authresults.dmarc_failure(["other.example; dmarc=fail", FAIL], {OURS}) == f"dmarc=fail ({OURS})"
    assert authresults.dmarc_failure([FAIL], set()) is None
    assert authresults.trusted_ids(" mx.example.com, MX2.example.com ,") == {"mx.example.com", "mx2.example.com"}
