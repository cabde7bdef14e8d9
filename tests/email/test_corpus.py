"""The parser over real-world MIME shapes (tests/email/corpus): text, charset, quotes, attachments, machines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.email.loops import Kind
from channels.email.inbound import parse_email, to_inbound
from tests.email.conftest import CORPUS

# file → (sender, subject, stripped text, sender kind)
CASES = {
    "gmail_alternative.eml": ("jane.doe@gmail.com", "Re: Order 1042 arrived damaged",
                              "Thanks, a replacement would be great. I\u2019m home all week.", Kind.PERSON),
    "html_only.eml": ("ops@shop.example.org", "Cannot log in to the dashboard",
                      "Hello,\n\nSince this morning I get Error 502 when I open the "
                      "[dashboard](https://app.example.com/dash).\n\n* Browser: Firefox\n* Account: ops@shop.example.org",
                      Kind.PERSON),
    "base64_body.eml": ("liu.wei@example.net", "Duplicate invoice",
                        "Hi team,\n\nthe invoice PDF is attached twice in my account. Could you remove one?\n\nThanks\nLiu",
                        Kind.PERSON),
    "quoted_printable_latin1.eml": ("juergen@example.de", "Bestellung nicht angekommen - dringend für Montag",
                                    "Grüß Gott,\n\nmeine Bestellung ist nicht angekommen. Können Sie nachsehen?"
                                    "\n\nMfG\nJürgen Müller", Kind.PERSON),
    "windows1252_8bit.eml": ("chloe@example.fr", "Double charge",
                             "Hello,\n\nthe \u201cPro\u201d plan was charged \u20ac49 twice \u2013 please refund one.",
                             Kind.PERSON),
    "latin1_label_cp1252_bytes.eml": ("tom@example.co.uk", "Quote marks", "It says \u201cexpired\u201d \u2013 why?",
                                      Kind.PERSON),
    "iso2022jp.eml": ("taro@example.jp", "配送状況のお問い合わせ",
                      "お世話になっております。\n注文番号 1042 の配送状況を教えてください。", Kind.PERSON),
    "shift_jis.eml": ("hanako@example.jp", "パスワード", "パスワードを忘れました。リセットできますか？", Kind.PERSON),
    "attachments.eml": ("sam@example.com.au", "Screenshots of the error", "See the attached invoice and screenshot.",
                        Kind.PERSON),
    "outlook_reply.eml": ("hans.becker@contoso.example", "AW: Upgrade to the Business plan",
                          "Yes, please upgrade us from next month.\n\nRegards\nHans", Kind.PERSON),
    # The closing and name are the customer's lines: kept (mail-parser-reply used to cut them as a signature).
    "german_reply.eml": ("joerg@example.de", "Re: Passwort zurücksetzen",
                         "Danke, das hat funktioniert!\n\nViele Grüße\nJörg", Kind.PERSON),
    "out_of_office.eml": ("priya@partner.example", "Automatic reply: Your order",
                          "I am out of the office until 20 November with limited access to email.", Kind.AUTO_REPLY),
    "mailing_list.eml": ("noreply@lists.example.org", "[dev-announce] Version 4.2 released", "Version 4.2 is out.",
                         Kind.LIST),
    "malformed.eml": ("broken@example.net", "Hello world weird", "Hello, my account is locked.", Kind.PERSON),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_message_is_read(name):
    sender, subject, text, kind = CASES[name]
    parsed = parse_email((CORPUS / name).read_bytes())
    assert (parsed.sender, parsed.subject, parsed.text, parsed.verdict.kind) == (sender, subject, text, kind)
    message = to_inbound(parsed, received_at=datetime.now(UTC))
    assert message.automatic == (kind != Kind.PERSON)
    assert message.identity.key == f"email:{sender}"


def test_every_corpus_file_is_covered():
    assert {p.name for p in CORPUS.glob("*.eml")} == set(CASES) | {"dsn_bounce.eml"}


def test_quoted_history_is_kept_in_full_text():
    parsed = parse_email((CORPUS / "outlook_reply.eml").read_bytes())
    assert "Would you like us to upgrade you now" in parsed.full_text
    assert parsed.in_reply_to == ("msg_outlookparent@example.com",)


def test_attachments_are_metadata_with_decoded_names_and_sizes():
    parsed = parse_email((CORPUS / "attachments.eml").read_bytes())
    assert [(a.name, a.content_type) for a in parsed.attachments] == [
        ("screenshot.png", "image/png"), ("Rechnung März.pdf", "application/pdf"),
        ("Your invoice.eml", "message/rfc822")]
    assert parsed.attachments[1].size == 3016


def test_malformed_mail_is_flagged_not_refused():
    parsed = parse_email((CORPUS / "malformed.eml").read_bytes())
    message = to_inbound(parsed, received_at=datetime.now(UTC))
    assert "CloseBoundaryNotFoundDefect" in message.meta["parse_problems"]
    assert "x-made-up-charset" in message.meta["parse_problems"]
    assert [a.name for a in message.attachments] == ["data.bin"]


def test_dsn_bounce_names_the_failed_message_recipient_and_reason():
    parsed = parse_email((CORPUS / "dsn_bounce.eml").read_bytes(), envelope_from="")
    assert parsed.verdict.kind == Kind.BOUNCE
    bounce = parsed.bounce
    assert bounce.original_message_ids == ("msg_bounced0000000000000000@example.com",)
    assert (bounce.recipient, bounce.action, bounce.status, bounce.failed) == (
        "nobody@customer.example", "failed", "5.1.1", True)
    assert bounce.describe().startswith("bounced for nobody@customer.example (5.1.1): 550 5.1.1")


def test_html_only_mail_is_flagged_and_without_markup():
    parsed = parse_email((CORPUS / "html_only.eml").read_bytes())
    assert parsed.html_only
    assert "<p>" not in parsed.text and "<li>" not in parsed.text and "color: #333" not in parsed.text


def test_mail_without_message_id_gets_a_content_digest_as_dedupe_key():
    raw = b"From: a@b.example\r\nTo: support@example.com\r\nSubject: x\r\n\r\nhello\r\n"
    message = to_inbound(parse_email(raw), received_at=datetime.now(UTC))
    assert message.provider_id.startswith("sha256:") and message.provider_id == to_inbound(
        parse_email(raw), received_at=datetime.now(UTC)).provider_id


def test_mail_without_any_sender_is_refused():
    from conversations.messages import InvalidPayload

    with pytest.raises(InvalidPayload):
        parse_email(b"To: support@example.com\r\nSubject: who?\r\n\r\nhello\r\n")


@pytest.mark.parametrize(("headers", "kind"), [
    ("Auto-Submitted: auto-generated", Kind.AUTO_REPLY),
    ("Auto-Submitted: no", Kind.PERSON),
    ("X-Autoreply: yes", Kind.AUTO_REPLY),
    ("X-Autorespond: vacation", Kind.AUTO_REPLY),
    ("Precedence: bulk", Kind.BULK),
    ("Precedence: junk", Kind.BULK),
    ("Precedence: auto_reply", Kind.AUTO_REPLY),
    ("List-Id: <team.lists.example>", Kind.LIST),
    ("Return-Path: <>", Kind.AUTO_REPLY),
    ("Subject: Abwesenheitsnotiz: Ihre Anfrage", Kind.AUTO_REPLY),
])
def test_rfc3834_and_autoresponder_markers(headers, kind):
    raw = f"From: someone@example.org\r\nTo: support@example.com\r\n{headers}\r\n\r\nbody\r\n".encode()
    assert parse_email(raw).verdict.kind == kind
