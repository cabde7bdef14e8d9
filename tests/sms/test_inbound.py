"""Inbound SMS through the signed Twilio webhook."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from conversations.messages import InvalidPayload
from channels.sms.inbound import from_twilio
from gateway.appkeys import SERVICES
from tests.conftest import admin_headers, start_client
from tests.support import raw_request
from tests.sms.conftest import OUR_NUMBER, inbound_form, post_signed, sign

NOW = datetime(2025, 11, 3, 10, 0, tzinfo=UTC)


async def inbound_messages(client, conversation_id: str):
    messages = await client.app[SERVICES].store.messages(conversation_id)
    return [m for m in messages if m.direction == "inbound"]


async def only_conversation(client) -> str:
    ids = await client.app[SERVICES].store.recent_conversation_ids(limit=10)
    assert len(ids) == 1
    return ids[0]


def test_request_validator_matches_the_published_test_vector():
    from twilio.request_validator import RequestValidator

    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
              "From": "+12349013030", "To": "+18005551212"}
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert RequestValidator("12345").compute_signature(url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


async def test_signed_sms_opens_a_conversation_and_answers_empty_twiml(sms_gateway):
    response = await post_signed(sms_gateway, "/sms/twilio", inbound_form(sender="(415) 555-0100", body="My bill is wrong"))
    assert response.status == 200
    assert response.content_type == "text/xml"
    assert (await response.text()).endswith("<Response/>")
    conversation_id = await only_conversation(sms_gateway)
    view = await (await sms_gateway.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).json()
    assert [(m["channel"], m["text"]) for m in view["messages"] if m["direction"] == "inbound"] == [
        ("sms", "My bill is wrong")]
    assert view["customer"]["identities"] == [{"channel": "sms", "address": "+14155550100"}]
    assert view["conversation"]["extra"]["sms:our_number"] == OUR_NUMBER


async def test_same_message_sid_twice_stores_one_message(sms_gateway):
    form = inbound_form(sid="SM" + "7" * 32, body="only once please")
    first = await post_signed(sms_gateway, "/sms/twilio", form)
    again = await post_signed(sms_gateway, "/sms/twilio", form)
    assert first.status == again.status == 200
    conversation_id = await only_conversation(sms_gateway)
    assert [m.text for m in await inbound_messages(sms_gateway, conversation_id)] == ["only once please"]


@pytest.mark.parametrize("case", ["wrong token", "missing header", "tampered body", "signed for another URL"])
async def test_bad_signature_is_refused_with_403_and_stores_nothing(sms_gateway, case):
    form = inbound_form()
    headers = {"X-Twilio-Signature": sign("/sms/twilio", form)}
    if case == "wrong token":
        headers = {"X-Twilio-Signature": sign("/sms/twilio", form, token="not-the-token")}
    elif case == "missing header":
        headers = {}
    elif case == "tampered body":
        form = {**form, "Body": "send me the admin password"}
    elif case == "signed for another URL":
        headers = {"X-Twilio-Signature": sign("/sms/twilio", form, base="http://10.0.0.5:8080")}
    response = await sms_gateway.post("/sms/twilio", data=form, headers=headers)
    assert response.status == 403
    assert await sms_gateway.app[SERVICES].store.recent_conversation_ids(limit=10) == []


async def test_messaging_service_pool_number_is_accepted(sms_gateway):
    # The customer texted another number of the Messaging Service's pool, not the configured one.
    form = inbound_form(To="+15005550009", MessagingServiceSid="MG" + "b" * 32, body="via the pool")
    response = await post_signed(sms_gateway, "/sms/twilio", form)
    assert response.status == 200
    conversation_id = await only_conversation(sms_gateway)
    [message] = await inbound_messages(sms_gateway, conversation_id)
    assert message.text == "via the pool"
    assert message.meta["to"] == "+15005550009"
    assert message.meta["messaging_service_sid"] == "MG" + "b" * 32


async def test_signature_uses_the_query_string_too(sms_gateway):
    form = inbound_form()
    path = "/sms/twilio?source=pool-a"
    response = await sms_gateway.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form)})
    assert response.status == 200


async def test_mms_media_is_kept_as_attachments(sms_gateway):
    form = inbound_form(body="", NumMedia="2",
                        MediaUrl0=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME{'1' * 32}",
                        MediaContentType0="image/jpeg",
                        MediaUrl1=f"https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME{'2' * 32}",
                        MediaContentType1="application/pdf")
    assert (await post_signed(sms_gateway, "/sms/twilio", form)).status == 200
    [message] = await inbound_messages(sms_gateway, await only_conversation(sms_gateway))
    assert [a.content_type for a in message.attachments] == ["image/jpeg", "application/pdf"]
    assert message.attachments[0].url.endswith("ME" + "1" * 32)


async def test_unparseable_sender_is_a_400_after_a_valid_signature(sms_gateway):
    response = await post_signed(sms_gateway, "/sms/twilio", inbound_form(sender="not a number"))
    assert response.status == 400
    assert "phone number" in (await response.json())["error"]


async def test_without_an_auth_token_nothing_is_accepted(aiohttp_client, fake_backend):
    client = await start_client(aiohttp_client, fake_backend)
    response = await post_signed(client, "/sms/twilio", inbound_form())
    assert response.status == 404  # not configured: answered like an endpoint that does not exist
    assert "AUTH_TOKEN" in (await response.json())["error"]


@pytest.mark.parametrize(("raw", "e164"), [
    ("+14155550100", "+14155550100"), ("(415) 555-0100", "+14155550100"), ("+49 151 12345678", "+4915112345678"),
])
def test_numbers_are_normalized_to_e164(raw, e164):
    message = from_twilio(inbound_form(sender=raw), received_at=NOW)
    assert message.identity.key == f"sms:{e164}"
    assert message.provider_id == "SM" + "1" * 32
    assert message.dedupe_key == "sms:SM" + "1" * 32


def test_a_form_without_message_sid_is_invalid():
    form = inbound_form()
    del form["MessageSid"], form["SmsSid"]
    with pytest.raises(InvalidPayload, match="MessageSid"):
        from_twilio(form, received_at=NOW)



@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("application/x-www-form-urlencoded; charset=bogus", b"From=%2B14155550100&Body=hi", 400),  # was a 500
    ("application/x-www-form-urlencoded; charset=\xff", b"From=%2B14155550100&Body=hi", 400),  # was a 500
    ("multipart/form-data; boundary=zz",
     b'--zz\r\nContent-Disposition: form-data; name="Body"\r\n\r\nhi\r\n--zz--\r\n', 415),
    ("text/plain", b"hello", 415),
    ("application/x-www-form-urlencoded", b"Body=" + b"x" * (64 * 1024), 413),  # Twilio sends a few kB
], ids=["unknown charset", "charset bytes", "multipart", "text", "too large"])
async def test_a_request_twilio_never_sends_is_a_clear_4xx_and_stores_nothing(sms_gateway, caplog, content_type,
                                                                            body, status):
    for path in ("/sms/twilio", "/sms/twilio/status"):
        with caplog.at_level(logging.ERROR):
            answer, text = await raw_request(sms_gateway, b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                                             b"Content-Type: " + content_type.encode("latin-1")
                                             + b"\r\nX-Twilio-Signature: c2lnbmF0dXJl\r\n", body)
        assert answer == status, text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert await sms_gateway.app[SERVICES].store.recent_conversation_ids(limit=5) == []
