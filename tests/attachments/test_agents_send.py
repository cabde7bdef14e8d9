"""Agents send files: multipart on the admin API, files in a Slack thread reply; to email, SMS and Slack."""

from __future__ import annotations

import aiohttp
import pytest

from gateway.appkeys import SERVICES
from tests.attachments import files
from tests.attachments.test_views import opens
from tests.conftest import admin_headers
from tests.email.conftest import conversations, customer_mail, mail_gateway, sink, smtp_send  # noqa: F401
from tests.slack.conftest import fake_slack, slack_gateway  # noqa: F401
from tests.sms.conftest import fake_twilio, inbound_form, post_signed, sms_backend, sms_gateway  # noqa: F401


def form(text: str | None, *uploads: tuple[str, bytes, str], **fields: str) -> aiohttp.FormData:
    data = aiohttp.FormData(default_to_multipart=True)
    if text is not None:
        data.add_field("text", text)
    for name, value in fields.items():
        data.add_field(name, value)
    for name, content, declared in uploads:
        data.add_field("file", content, filename=name, content_type=declared)
    return data


def stored_files(client) -> list[str]:
    return sorted(p.name for p in client.app[SERVICES].attachments.store.root.rglob("att_*") if not p.name.endswith(".json"))


async def test_a_multipart_reply_reaches_the_email_customer_as_attachments(mail_gateway, sink):
    await smtp_send(mail_gateway, customer_mail("Can you send me the invoice?"))
    [conversation_id] = await conversations(mail_gateway)
    response = await mail_gateway.post(
        f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
        data=form("Here it is.", ("invoice.pdf", files.pdf(), "application/pdf"),
                  ("label.png", files.png(), "application/octet-stream"), author="Grace"))
    assert response.status == 201, await response.text()
    message = (await response.json())["message"]
    assert [(a["name"], a["content_type"]) for a in message["attachments"]] == [
        ("invoice.pdf", "application/pdf"), ("label.png", "image/png")]
    assert await opens(mail_gateway, message["attachments"][0]["url"]) == files.pdf()
    await mail_gateway.backend.drain_async()
    [received] = sink.to("ada@customer.example")
    assert received.text().strip() == "Here it is."
    attached = [(part.get_filename(), part.get_content_type(), part.get_content())
                for part in received.message.iter_attachments()]
    assert attached == [("invoice.pdf", "application/pdf", files.pdf()), ("label.png", "image/png", files.png())]


async def test_a_file_with_no_text_is_a_reply_too(mail_gateway, sink):
    await smtp_send(mail_gateway, customer_mail("The form please"))
    [conversation_id] = await conversations(mail_gateway)
    response = await mail_gateway.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                       data=form(None, ("form.pdf", files.pdf(), "application/pdf")))
    assert response.status == 201, await response.text()
    await mail_gateway.backend.drain_async()
    [received] = sink.to("ada@customer.example")
    assert [part.get_filename() for part in received.message.iter_attachments()] == ["form.pdf"]


@pytest.mark.parametrize(("upload", "fields", "status", "reason"), [
    (("virus.pdf", files.exe(), "application/pdf"), {}, 415, "virus.pdf: application/x-msdownload files are not accepted"),
    (("huge.png", files.png() + b"\0" * (300 * 1024), "image/png"), {}, 413, "larger than the 262144 bytes"),
    (("ok.pdf", files.pdf(), "application/pdf"), {"kind": "note"}, 400, "kind"),
    (("ok.pdf", files.pdf(), "application/pdf"), {"channel": "fax"}, 400, "channel"),
])
async def test_bad_uploads_are_refused_with_the_reason_and_store_nothing(mail_gateway, upload, fields, status, reason):
    mail_gateway.app[SERVICES].attachments.limits["agent"] = mail_gateway.app[SERVICES].attachments.limits[
        "agent"].__class__(max_bytes=256 * 1024, types=("image/*", "application/pdf"))
    await smtp_send(mail_gateway, customer_mail("Hello"))
    [conversation_id] = await conversations(mail_gateway)
    before = stored_files(mail_gateway)
    good = ("fine.png", files.png(), "image/png")  # a good file before the bad one is not kept either
    response = await mail_gateway.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                       data=form("text", good, upload, **fields))
    assert response.status == status, await response.text()
    assert reason in (await response.json())["error"]
    assert stored_files(mail_gateway) == before
    messages = await mail_gateway.app[SERVICES].store.messages(conversation_id)
    assert not [m for m in messages if m.direction == "outbound"]


async def test_uploads_need_the_admin_token_and_a_real_conversation(mail_gateway):
    await smtp_send(mail_gateway, customer_mail("Hello"))
    [conversation_id] = await conversations(mail_gateway)
    before = stored_files(mail_gateway)
    upload = ("ok.pdf", files.pdf(), "application/pdf")
    assert (await mail_gateway.post(f"/api/conversations/{conversation_id}/messages", data=form("x", upload),
                                    headers={"Authorization": "Bearer wrong"})).status == 401
    missing = await mail_gateway.post("/api/conversations/nope/messages", data=form("x", upload),
                                      headers=admin_headers())
    assert missing.status == 404
    empty = await mail_gateway.post(f"/api/conversations/{conversation_id}/messages", data=form(""),
                                    headers=admin_headers())
    assert empty.status == 400 and "text or a file" in (await empty.json())["error"]
    assert stored_files(mail_gateway) == before


async def test_an_mms_reply_gives_twilio_the_signed_public_url(sms_gateway, fake_twilio):
    assert (await post_signed(sms_gateway, "/sms/twilio", inbound_form(body="photo of the part?"))).status == 200
    [conversation_id] = await sms_gateway.app[SERVICES].store.recent_conversation_ids(limit=5)
    response = await sms_gateway.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                      data=form("", ("part.png", files.png(), "image/png")))
    assert response.status == 201, await response.text()
    await sms_gateway.backend.drain_async()
    [request] = fake_twilio.requests
    [media_url] = request["media_urls"]
    assert media_url.startswith("https://gateway.example.com/attachments/att_")
    assert await opens(sms_gateway, media_url) == files.png()  # what Twilio fetches, with no credentials


async def test_a_file_in_an_agents_slack_reply_reaches_the_customer(slack_gateway, fake_slack):
    gw = slack_gateway
    dm = {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "team": "T0GATEWAY",
          "text": "which cable do I need?", "ts": "1700000500.000001", "client_msg_id": "cm-send-1"}
    await gw.event(dm, event_id="Ev-send-1")
    await gw.drain()
    [parent] = fake_slack.parents("#service")
    diagram = fake_slack.add_file("cable.png", "image/png", files.png())
    reply = {"type": "message", "subtype": "file_share", "channel": parent.channel, "channel_type": "channel",
             "user": "UAGENT", "text": "", "ts": "1700000500.000002", "thread_ts": parent.ts, "files": [diagram]}
    await gw.event(reply, event_id="Ev-send-2")
    await gw.drain()
    [answer] = [m for m in fake_slack.messages if m.channel == "D0CUST"]
    assert answer.text.startswith("*Grace*: \n:paperclip: <https://gateway.example/attachments/att_")
    url = answer.text.split("<", 1)[1].split("|", 1)[0].replace("&amp;", "&")
    assert await opens(gw.client, url) == files.png()


async def test_a_refused_file_in_a_slack_reply_sends_nothing_and_says_why(slack_gateway, fake_slack):
    gw = slack_gateway
    dm = {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "team": "T0GATEWAY",
          "text": "send the tool", "ts": "1700000600.000001", "client_msg_id": "cm-send-3"}
    await gw.event(dm, event_id="Ev-send-3")
    await gw.drain()
    [parent] = fake_slack.parents("#service")
    tool = fake_slack.add_file("tool.exe", "application/octet-stream", files.exe())
    reply = {"type": "message", "subtype": "file_share", "channel": parent.channel, "channel_type": "channel",
             "user": "UAGENT", "text": "here", "ts": "1700000600.000002", "thread_ts": parent.ts, "files": [tool]}
    await gw.event(reply, event_id="Ev-send-4")
    await gw.drain()
    assert not [m for m in fake_slack.messages if m.channel == "D0CUST"]
    [told] = [m for m in fake_slack.thread("#service", parent.ts) if m.text.startswith(":x:")]
    assert "tool.exe" in told.text and "x-msdownload files are not accepted on agent" in told.text
    assert stored_files(gw.client) == []


async def test_more_than_ten_files_are_refused(mail_gateway):
    await smtp_send(mail_gateway, customer_mail("Hello"))
    [conversation_id] = await conversations(mail_gateway)
    many = [(f"p{n}.png", files.png(), "image/png") for n in range(11)]
    response = await mail_gateway.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                       data=form("x", *many))
    assert response.status == 400 and "at most 10 files" in (await response.json())["error"]
    assert stored_files(mail_gateway) == []


async def test_a_file_gone_from_the_store_fails_the_delivery_with_the_reason(mail_gateway, sink):
    await smtp_send(mail_gateway, customer_mail("Invoice?"))
    [conversation_id] = await conversations(mail_gateway)
    response = await mail_gateway.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                       data=form("Attached", ("invoice.pdf", files.pdf(), "application/pdf")))
    message = (await response.json())["message"]
    await mail_gateway.app[SERVICES].attachments.store.delete(message["attachments"][0]["id"])
    await mail_gateway.backend.drain_async()
    assert sink.to("ada@customer.example") == []
    sent = await mail_gateway.app[SERVICES].store.message(conversation_id, message["id"])
    assert sent.delivery == "failed" and "invoice.pdf is no longer in the attachment store" in sent.delivery_error
