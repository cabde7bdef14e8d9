"""One customer, two channels: email and SMS in one conversation; replies go where the customer last wrote."""

from __future__ import annotations

import fakeredis
import pytest

from channels.email.smtp import PORT_KEY
from gateway.appkeys import SERVICES
from tests.conftest import Backend, admin_headers, start_client
from tests.email.conftest import customer_mail, email_settings, smtp_send
from tests.email.sink import SinkServer
from tests.sms.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, fake_twilio, inbound_form, post_signed  # noqa: F401
from workers import context

PHONE = "+14155550123"


@pytest.fixture
async def both(aiohttp_client, fake_twilio):  # noqa: F811
    sink_server = SinkServer()
    sink_server.start()
    settings = email_settings(sink_server.port, public_url=PUBLIC_URL, twilio={
        "account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": "+15005550006",
        "api_base_url": fake_twilio.url})
    backend = Backend(settings, fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend, client.smtp_port = backend, client.app[PORT_KEY]
    yield client, sink_server.sink, fake_twilio
    sink_server.stop()
    context.install(None)


async def test_email_then_sms_from_a_linked_number_is_one_timeline_and_replies_follow_the_channel(both):
    client, sink, twilio = both
    await smtp_send(client, customer_mail("My router keeps rebooting", subject="Router"))
    [conversation_id] = await client.app[SERVICES].store.recent_conversation_ids(limit=10)
    customer_id = (await client.app[SERVICES].store.conversation(conversation_id)).customer_id
    response = await client.post(f"/api/customers/{customer_id}/identities",
                                 json={"channel": "sms", "address": PHONE}, headers=admin_headers())
    assert response.status == 200

    assert (await post_signed(client, "/sms/twilio", inbound_form(sender=PHONE, body="Any news?"))).status == 200
    assert await client.app[SERVICES].store.recent_conversation_ids(limit=10) == [conversation_id]

    # The customer last wrote by SMS: the reply goes by SMS. The agent may still pick email.
    for body in ({"text": "We are on it."}, {"text": "Details by mail.", "channel": "email"}):
        response = await client.post(f"/api/conversations/{conversation_id}/messages", json=body,
                                     headers=admin_headers())
        assert response.status == 201
    await client.backend.drain_async()

    view = await (await client.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).json()
    timeline = [(m["direction"], m["channel"], m["text"]) for m in view["messages"] if m["direction"] != "event"]
    assert timeline == [
        ("inbound", "email", "My router keeps rebooting"),
        ("inbound", "sms", "Any news?"),
        ("outbound", "sms", "We are on it."),
        ("outbound", "email", "Details by mail."),
    ]
    assert [(form["To"], form["Body"]) for form in twilio.sent] == [(PHONE, "We are on it.")]
    [mail] = sink.to("ada@customer.example")
    assert mail.text().strip() == "Details by mail." and mail["Subject"] == "Re: Router"


async def test_an_agent_follows_up_by_mail_on_a_linked_address_the_customer_never_mailed_from(both):
    """A conversation begun by SMS; the customer's email address is linked: a reply picked for email goes out
    by mail (the inbox offers every linked channel), and the customer's answer to it lands in that conversation."""
    client, sink, twilio = both
    assert (await post_signed(client, "/sms/twilio", inbound_form(sender=PHONE, body="My router died"))).status == 200
    [conversation_id] = await client.app[SERVICES].store.recent_conversation_ids(limit=10)
    customer_id = (await client.app[SERVICES].store.conversation(conversation_id)).customer_id
    linked = await client.post(f"/api/customers/{customer_id}/identities",
                               json={"channel": "email", "address": "ada@customer.example"}, headers=admin_headers())
    assert linked.status == 200
    offered = await (await client.get(f"/api/inbox/conversations/{conversation_id}", headers=admin_headers())).json()
    assert offered["reply_channels"] == ["email", "sms"]

    response = await client.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                 json={"text": "The return label is attached to this mail.", "channel": "email"})
    assert response.status == 201, await response.text()
    await client.backend.drain_async()
    [mail] = sink.to("ada@customer.example")
    assert mail.text().strip() == "The return label is attached to this mail."
    assert twilio.sent == []

    answer = customer_mail("Got it, thanks", subject=f"Re: {mail['Subject']}", to=mail["Reply-To"],
                           in_reply_to=mail["Message-ID"])
    await smtp_send(client, answer, recipients=[mail["Reply-To"]])
    assert await client.app[SERVICES].store.recent_conversation_ids(limit=10) == [conversation_id]
    view = await (await client.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).json()
    assert [(m["direction"], m["channel"]) for m in view["messages"] if m["direction"] != "event"] == [
        ("inbound", "sms"), ("outbound", "email"), ("inbound", "email")]


async def test_a_reply_on_a_channel_the_customer_has_no_address_on_is_refused(both):
    client, _, _ = both
    assert (await post_signed(client, "/sms/twilio", inbound_form(sender=PHONE, body="Hello"))).status == 200
    [conversation_id] = await client.app[SERVICES].store.recent_conversation_ids(limit=10)
    response = await client.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                 json={"text": "By mail?", "channel": "email"})
    assert response.status == 400 and "has no email address" in (await response.json())["error"]
