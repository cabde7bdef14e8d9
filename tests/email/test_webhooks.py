"""Raw MIME webhooks: Mailgun's signed ``mime`` route and SendGrid Inbound Parse (raw) behind a secret."""

from __future__ import annotations

import base64
import json
import logging
import time

import pytest
from aiohttp import FormData

from tests.email.conftest import (
    CORPUS,
    SENDGRID_SECRET,
    conversations,
    customer_mail,
    mailgun_fields,
    timeline,
)


def form(fields: dict) -> FormData:
    data = FormData()
    for name, value in fields.items():
        if isinstance(value, bytes):
            data.add_field(name, value, filename="message.mime", content_type="message/rfc822")
        else:
            data.add_field(name, value)
    return data


async def test_mailgun_mime_route_stores_the_message(mail_gateway):
    raw = (CORPUS / "gmail_alternative.eml").read_bytes()
    response = await mail_gateway.post("/email/mailgun/mime", data=form(mailgun_fields(raw)))
    assert response.status == 200, await response.text()
    [conversation_id] = await conversations(mail_gateway)
    [message] = await timeline(mail_gateway, conversation_id, "inbound")
    assert message.text == "Thanks, a replacement would be great. I\u2019m home all week."
    assert message.meta["message_id"] == "CAFx9Lk3kq1=yP2@mail.gmail.com"


async def test_mailgun_bad_signature_is_refused_and_stores_nothing(mail_gateway):
    raw = customer_mail("forged").as_bytes()
    response = await mail_gateway.post("/email/mailgun/mime", data=form(mailgun_fields(raw, key="wrong-key")))
    assert response.status == 403
    assert await conversations(mail_gateway) == []


async def test_mailgun_stale_timestamp_is_refused(mail_gateway):
    raw = customer_mail("old").as_bytes()
    fields = mailgun_fields(raw, timestamp=int(time.time()) - 16 * 60)
    response = await mail_gateway.post("/email/mailgun/mime", data=form(fields))
    assert response.status == 403 and "stale" in (await response.json())["error"]
    assert await conversations(mail_gateway) == []


async def test_mailgun_reused_token_is_refused_without_retry(mail_gateway):
    fields = mailgun_fields(customer_mail("first").as_bytes(), token="t" * 50)
    assert (await mail_gateway.post("/email/mailgun/mime", data=form(fields))).status == 200
    # A replay keeps the valid signature but swaps the message (the signature does not cover it).
    replay = {**fields, "body-mime": customer_mail("replayed", sender="eve@evil.example").as_bytes()}
    response = await mail_gateway.post("/email/mailgun/mime", data=form(replay))
    assert response.status == 406
    [conversation_id] = await conversations(mail_gateway)
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["first"]


async def test_mailgun_gets_503_while_redis_is_down_and_its_retry_is_accepted(mail_gateway):
    fields = mailgun_fields(customer_mail("keep me").as_bytes(), token="r" * 50)
    server = mail_gateway.backend.fake_server
    server.connected = False
    try:
        assert (await mail_gateway.post("/email/mailgun/mime", data=form(fields))).status == 503
    finally:
        server.connected = True
    assert (await mail_gateway.post("/email/mailgun/mime", data=form(fields))).status == 200
    assert len(await conversations(mail_gateway)) == 1


async def test_sendgrid_raw_parse_with_the_right_secret_is_stored(mail_gateway):
    raw = (CORPUS / "attachments.eml").read_bytes()
    envelope = json.dumps({"to": ["support@example.com"], "from": "sam@example.com.au"})
    response = await mail_gateway.post(f"/email/sendgrid/{SENDGRID_SECRET}",
                                       data=form({"email": raw.decode(), "envelope": envelope, "charsets": "{}"}))
    assert response.status == 200, await response.text()
    [conversation_id] = await conversations(mail_gateway)
    [message] = await timeline(mail_gateway, conversation_id, "inbound")
    assert [a.name for a in message.attachments] == ["screenshot.png", "Rechnung M\u00e4rz.pdf", "Your invoice.eml"]


async def test_sendgrid_wrong_secret_is_refused(mail_gateway):
    raw = customer_mail("sneaky").as_bytes()
    response = await mail_gateway.post("/email/sendgrid/guess", data=form({"email": raw.decode()}))
    assert response.status == 403
    assert await conversations(mail_gateway) == []


async def test_webhook_mail_over_the_size_limit_is_refused(mail_gateway):
    big = customer_mail("x" * (200 * 1024)).as_bytes()
    response = await mail_gateway.post("/email/mailgun/mime", data=form(mailgun_fields(big)))
    assert response.status == 406
    response = await mail_gateway.post(f"/email/sendgrid/{SENDGRID_SECRET}", data=form({"email": big.decode()}))
    assert response.status == 413
    assert await conversations(mail_gateway) == []


# -- SendGrid's secret out of the URL --------------------------------------------------------------


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def sendgrid_form(text: str = "by basic auth", envelope: str | None = None) -> FormData:
    fields = {"email": customer_mail(text).as_string(), "charsets": "{}"}
    if envelope is not None:
        fields["envelope"] = envelope
    return form(fields)


async def test_sendgrid_takes_its_secret_as_basic_auth_and_never_logs_it(mail_gateway, caplog):
    caplog.set_level(logging.DEBUG)
    response = await mail_gateway.post("/email/sendgrid", data=sendgrid_form(),
                                       headers=basic("sendgrid", SENDGRID_SECRET))
    assert response.status == 200, await response.text()
    [conversation_id] = await conversations(mail_gateway)
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["by basic auth"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /email/sendgrid" in logged  # the access log line is there ...
    assert SENDGRID_SECRET not in logged  # ... without the secret


async def test_sendgrid_takes_its_secret_as_a_header(mail_gateway):
    response = await mail_gateway.post("/email/sendgrid", data=sendgrid_form("by header"),
                                       headers={"X-Gateway-Secret": SENDGRID_SECRET})
    assert response.status == 200, await response.text()
    assert len(await conversations(mail_gateway)) == 1


async def test_sendgrid_without_credentials_is_asked_for_them_and_a_wrong_secret_is_refused(mail_gateway):
    response = await mail_gateway.post("/email/sendgrid", data=sendgrid_form())
    assert response.status == 401 and response.headers["WWW-Authenticate"] == 'Basic realm="sendgrid"'
    for credentials in (basic("sendgrid", "guess"), basic(SENDGRID_SECRET, "")):
        assert (await mail_gateway.post("/email/sendgrid", data=sendgrid_form(), headers=credentials)).status == 403
    response = await mail_gateway.post("/email/sendgrid", data=sendgrid_form(),
                                       headers={"Authorization": "Basic !!!not-base64"})
    assert response.status == 401
    assert await conversations(mail_gateway) == []


@pytest.mark.parametrize("envelope", ["null", "[]", '"str"', "5", '{"to": "support@example.com", "from": 7}',
                                      '{"to": [null, 3, {"a": 1}]}', "[" * 5000, "not json"])
async def test_sendgrid_envelope_of_any_shape_is_read_as_far_as_it_makes_sense(mail_gateway, envelope):
    response = await mail_gateway.post("/email/sendgrid", data=sendgrid_form("odd envelope", envelope),
                                       headers=basic("sendgrid", SENDGRID_SECRET))
    assert response.status == 200, await response.text()
    [conversation_id] = await conversations(mail_gateway)
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["odd envelope"]
