"""Customers' files stored on arrival: email parts over real SMTP, MMS media from Twilio, Slack files."""

from __future__ import annotations

from email.message import EmailMessage

from conversations.attachments import StoredFile
from gateway.appkeys import SERVICES
from tests.attachments import files
from tests.email.conftest import conversations, customer_mail, mail_gateway, sink, smtp_send, timeline  # noqa: F401
from tests.slack.conftest import fake_slack, slack_gateway  # noqa: F401
from tests.sms.conftest import ACCOUNT_SID, AUTH_TOKEN, fake_twilio, inbound_form, post_signed  # noqa: F401
from tests.sms.conftest import sms_backend, sms_gateway  # noqa: F401


async def stored(client, attachment_id: str):
    return await client.app[SERVICES].attachments.store.get(attachment_id)


def mail_with_files() -> EmailMessage:
    mail = customer_mail("Photo of the damage and the invoice attached.")
    # Declared as text and named .txt: the bytes are a PNG, and that is what is kept.
    mail.add_attachment(files.png(), maintype="text", subtype="plain", filename="notes.txt")
    mail.add_attachment(files.pdf(), maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    # An executable calling itself a PDF: listed for the agent with the reason, never stored.
    mail.add_attachment(files.exe(), maintype="application", subtype="pdf", filename="invoice.pdf")
    return mail


async def test_email_parts_over_smtp_are_stored_with_sniffed_types(mail_gateway):
    mail = mail_with_files()
    await smtp_send(mail_gateway, mail)
    [conversation_id] = await conversations(mail_gateway)
    [message] = await timeline(mail_gateway, conversation_id, "inbound")
    png, pdf, exe = message.attachments
    assert (png.name, png.content_type, png.size) == ("notes.txt", "image/png", len(files.png()))
    assert await stored(mail_gateway, png.id) == (files.png(), StoredFile("image/png", "notes.txt"))
    assert pdf.content_type == "application/pdf" and pdf.name == "Rechnung März.pdf"
    assert await stored(mail_gateway, pdf.id) == (files.pdf(), StoredFile("application/pdf", "Rechnung März.pdf"))
    assert exe.id is None and "application/x-msdownload files are not accepted on email" in exe.refused

    # The same mail delivered again (a sending server's retry): one message, the same files, nothing new stored.
    directory = mail_gateway.app[SERVICES].attachments.store.root
    before = sorted(p.name for p in directory.rglob("att_*") if not p.name.endswith(".json"))
    await smtp_send(mail_gateway, mail)
    assert len(await timeline(mail_gateway, conversation_id, "inbound")) == 1
    assert sorted(p.name for p in directory.rglob("att_*") if not p.name.endswith(".json")) == before


async def test_mms_media_is_fetched_with_the_twilio_credentials(sms_gateway, fake_twilio):
    fake_twilio.account_sid, fake_twilio.auth_token = ACCOUNT_SID, AUTH_TOKEN
    sid = "MM" + "2" * 32
    photo = fake_twilio.add_media(fake_twilio.url, sid, "image/jpeg", files.png())
    form = inbound_form(sid=sid, body="", NumMedia="2", MediaUrl0=photo, MediaContentType0="image/jpeg",
                        MediaUrl1="https://evil.example/steal", MediaContentType1="image/png")
    assert (await post_signed(sms_gateway, "/sms/twilio", form)).status == 200
    [conversation_id] = await sms_gateway.app[SERVICES].store.recent_conversation_ids(limit=5)
    [message] = [m for m in await sms_gateway.app[SERVICES].store.messages(conversation_id) if m.direction == "inbound"]
    kept, foreign = message.attachments
    assert kept.content_type == "image/png" and kept.url == photo  # sniffed, not Twilio's declared image/jpeg
    assert (await stored(sms_gateway, kept.id))[0] == files.png()
    # Credentials went to Twilio only, once; the foreign URL was not fetched at all.
    assert len(fake_twilio.media_fetches) == 1 and fake_twilio.media_fetches[0].startswith("Basic ")
    assert foreign.id is None and "not the provider's file host" in foreign.refused


async def test_mms_media_twilio_refuses_is_listed_with_the_reason(sms_gateway, fake_twilio):
    fake_twilio.account_sid, fake_twilio.auth_token = ACCOUNT_SID, "another-token"  # Twilio answers 401
    sid = "MM" + "3" * 32
    photo = fake_twilio.add_media(fake_twilio.url, sid, "image/png", files.png())
    form = inbound_form(sid=sid, body="see photo", NumMedia="1", MediaUrl0=photo, MediaContentType0="image/png")
    assert (await post_signed(sms_gateway, "/sms/twilio", form)).status == 200
    [conversation_id] = await sms_gateway.app[SERVICES].store.recent_conversation_ids(limit=5)
    [message] = [m for m in await sms_gateway.app[SERVICES].store.messages(conversation_id) if m.direction == "inbound"]
    assert message.text == "see photo"
    [medium] = message.attachments
    assert medium.id is None and "answered 401" in medium.refused and medium.url == photo


async def test_slack_customer_files_are_fetched_with_the_bot_token(slack_gateway, fake_slack):
    gw = slack_gateway
    shared = fake_slack.add_file("screen.png", "image/png", files.png())
    dm = {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "team": "T0GATEWAY",
          "text": "", "ts": "1700000300.000001", "client_msg_id": "cm-file-1", "files": [shared]}
    assert (await gw.event(dm, event_id="Ev-file-1")).status == 200
    [conversation_id] = await gw.runtime.store.recent_conversation_ids(limit=5)
    [message] = [m for m in await gw.runtime.store.messages(conversation_id) if m.direction == "inbound"]
    [screen] = message.attachments
    assert (screen.name, screen.content_type) == ("screen.png", "image/png")
    assert (await stored(gw.client, screen.id))[0] == files.png()
    assert fake_slack.downloads == ["Bearer xoxb-test-token"]
