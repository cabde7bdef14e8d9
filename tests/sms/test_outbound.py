"""Agent replies to SMS customers through the official twilio client, and Twilio's status callbacks."""

from __future__ import annotations

from datetime import UTC, datetime

import fakeredis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from gateway.appkeys import SERVICES
from tests.conftest import Backend, admin_headers, start_client
from tests.sms.conftest import ACCOUNT_SID, OUR_NUMBER, PUBLIC_URL, inbound_form, post_signed, sms_settings
from tests.support import redis_snapshot
from workers import defaults

CUSTOMER = "+14155550100"


async def customer_texts(client, body: str = "Hi, where is my order?", **extra) -> str:
    response = await post_signed(client, "/sms/twilio", inbound_form(sender=CUSTOMER, body=body, **extra))
    assert response.status == 200
    [conversation_id] = await client.app[SERVICES].store.recent_conversation_ids(limit=10)
    return conversation_id


async def agent_replies(client, conversation_id: str, text: str) -> str:
    response = await client.post(f"/api/conversations/{conversation_id}/messages",
                                 json={"text": text, "author": "Grace"}, headers=admin_headers())
    assert response.status == 201
    return (await response.json())["message"]["id"]


async def outbound(client, conversation_id: str, message_id: str):
    return await client.app[SERVICES].store.message(conversation_id, message_id)


async def test_agent_reply_reaches_twilio_with_the_right_to_from_and_body(sms_gateway, fake_twilio):
    conversation_id = await customer_texts(sms_gateway)
    message_id = await agent_replies(sms_gateway, conversation_id, "It ships tomorrow.")
    await sms_gateway.backend.drain_async()

    [request] = fake_twilio.requests
    assert request["account"] == ACCOUNT_SID
    assert request["authorization"].startswith("Basic ")
    assert request["form"]["To"] == CUSTOMER
    assert request["form"]["From"] == OUR_NUMBER
    assert request["form"]["Body"] == "It ships tomorrow."
    assert request["form"]["StatusCallback"] == PUBLIC_URL + "/sms/twilio/status"
    sent = await outbound(sms_gateway, conversation_id, message_id)
    assert sent.delivery == "sent" and sent.provider_id.startswith("SM")


async def test_long_text_is_sent_whole_in_one_request(sms_gateway, fake_twilio):
    conversation_id = await customer_texts(sms_gateway)
    text = "Step by step: " + "restart the router, wait a minute, and try again. " * 30
    await agent_replies(sms_gateway, conversation_id, text.strip())
    await sms_gateway.backend.drain_async()
    assert [form["Body"] for form in fake_twilio.sent] == [text.strip()]


async def test_reply_goes_from_the_pool_number_the_customer_texted(sms_gateway, fake_twilio):
    conversation_id = await customer_texts(sms_gateway, To="+15005550009")
    await agent_replies(sms_gateway, conversation_id, "Hello from the same number")
    await sms_gateway.backend.drain_async()
    assert fake_twilio.sent[0]["From"] == "+15005550009"


async def test_with_a_messaging_service_the_service_sends(aiohttp_client, fake_twilio):
    backend = Backend(sms_settings(fake_twilio, from_number=None, messaging_service_sid="MG" + "c" * 32),
                      fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    conversation_id = await customer_texts(client, To="+15005550009", MessagingServiceSid="MG" + "c" * 32)
    await agent_replies(client, conversation_id, "Through the service")
    await backend.drain_async()
    [form] = fake_twilio.sent
    assert form["MessagingServiceSid"] == "MG" + "c" * 32 and "From" not in form
    assert form["To"] == CUSTOMER


async def test_invalid_number_fails_at_once_with_the_reason(sms_gateway, fake_twilio):
    fake_twilio.failures.append((400, 21211, "The 'To' number +14155550100 is not a valid phone number."))
    conversation_id = await customer_texts(sms_gateway)
    message_id = await agent_replies(sms_gateway, conversation_id, "Hello?")
    await sms_gateway.backend.drain_async()
    message = await outbound(sms_gateway, conversation_id, message_id)
    assert message.delivery == "failed"
    assert "21211" in message.delivery_error and "not a valid phone number" in message.delivery_error
    assert len(fake_twilio.requests) == 1
    registry = ScheduledJobRegistry(queue=Queue(defaults.OUTBOUND, connection=sms_gateway.backend.sync_client()))
    assert registry.get_job_ids() == []


async def retry_now(backend) -> None:
    """Make the scheduled retry due now instead of in OUTBOUND_RETRY_INTERVALS[0] seconds, then run it."""
    queue = Queue(defaults.OUTBOUND, connection=backend.sync_client())
    registry = ScheduledJobRegistry(queue=queue)
    [job_id] = registry.get_job_ids()
    registry.schedule(queue.fetch_job(job_id), datetime.now(UTC))
    await backend.drain_async()


async def test_rate_limit_and_server_errors_are_retried_until_sent(sms_gateway, fake_twilio):
    fake_twilio.failures += [(429, 20429, "Too Many Requests"), (500, None, "Internal error")]
    conversation_id = await customer_texts(sms_gateway)
    message_id = await agent_replies(sms_gateway, conversation_id, "Retry me")
    await sms_gateway.backend.drain_async()
    waiting = await outbound(sms_gateway, conversation_id, message_id)
    assert waiting.delivery == "queued" and "429" in waiting.delivery_error

    await retry_now(sms_gateway.backend)
    assert "500" in (await outbound(sms_gateway, conversation_id, message_id)).delivery_error
    await retry_now(sms_gateway.backend)

    sent = await outbound(sms_gateway, conversation_id, message_id)
    assert sent.delivery == "sent"
    assert [form["Body"] for form in fake_twilio.sent] == ["Retry me"] * 3


async def status_callback(client, sid: str, status: str, **extra: str):
    form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status, "AccountSid": ACCOUNT_SID,
            "To": CUSTOMER, "From": OUR_NUMBER, "ApiVersion": "2010-04-01", **extra}
    return await post_signed(client, "/sms/twilio/status", form)


async def test_status_callbacks_update_delivery_and_a_failure_shows_its_error(sms_gateway, fake_twilio):
    conversation_id = await customer_texts(sms_gateway)
    first = await agent_replies(sms_gateway, conversation_id, "one")
    second = await agent_replies(sms_gateway, conversation_id, "two")
    await sms_gateway.backend.drain_async()
    sid_one = (await outbound(sms_gateway, conversation_id, first)).provider_id
    sid_two = (await outbound(sms_gateway, conversation_id, second)).provider_id

    assert (await status_callback(sms_gateway, sid_one, "delivered")).status == 204
    assert (await status_callback(sms_gateway, sid_one, "sent")).status == 204  # late, out of order
    assert (await outbound(sms_gateway, conversation_id, first)).delivery == "delivered"

    await status_callback(sms_gateway, sid_two, "failed", ErrorCode="30003")
    failed = await outbound(sms_gateway, conversation_id, second)
    assert failed.delivery == "failed"
    assert failed.delivery_error == "Twilio error 30003: unreachable destination handset"
    view = await (await sms_gateway.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).json()
    shown = {m["text"]: (m["delivery"], m["delivery_error"]) for m in view["messages"] if m["direction"] == "outbound"}
    assert shown["two"] == ("failed", "Twilio error 30003: unreachable destination handset")


async def test_status_callback_needs_a_valid_signature(sms_gateway):
    response = await sms_gateway.post("/sms/twilio/status", data={"MessageSid": "SMx", "MessageStatus": "failed"},
                                      headers={"X-Twilio-Signature": "AAAA"})
    assert response.status == 403


async def test_status_of_a_message_we_did_not_send_changes_nothing(sms_gateway, fake_twilio):
    conversation_id = await customer_texts(sms_gateway)
    message_id = await agent_replies(sms_gateway, conversation_id, "It ships tomorrow.")
    await sms_gateway.backend.drain_async()
    ours = await outbound(sms_gateway, conversation_id, message_id)
    assert ours.delivery == "sent"
    redis = sms_gateway.backend.sync_client()
    before = redis_snapshot(redis)
    timeline = await sms_gateway.app[SERVICES].store.messages(conversation_id)

    unknown = "SM" + "9" * 32
    assert unknown != ours.provider_id
    assert (await status_callback(sms_gateway, unknown, "delivered")).status == 204
    assert (await status_callback(sms_gateway, unknown, "failed", ErrorCode="30003")).status == 204

    assert redis_snapshot(redis) == before  # no key written, created or removed
    assert await sms_gateway.app[SERVICES].store.messages(conversation_id) == timeline
    assert await sms_gateway.app[SERVICES].store.find_by_provider_id("sms", unknown) is None
    after = await outbound(sms_gateway, conversation_id, message_id)
    assert (after.delivery, after.delivery_error) == ("sent", ours.delivery_error)
    assert len(fake_twilio.requests) == 1
