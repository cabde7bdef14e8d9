"""Whole MIME mails through the parser: the new words, the signature apart, forwards kept and marked."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from email.message import EmailMessage

from channels.email import shapes
from channels.email.body import MAX_HTML_NESTING, MAX_TEXT_CHARS, split_body
from channels.email.inbound import parse_email, to_inbound
from channels.email.reply_words import LABELS
from tests.email.conftest import CORPUS

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def mail(text: str, *, subject: str = "Re: Your order", html: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Dana Reyes <dana@customer.example>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = "<body-parts-1@customer.example>"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def test_signature_is_kept_apart_and_not_in_the_routed_text():
    raw = mail("Please call me tomorrow.\n\n-- \nDana Reyes\n+44 20 7946 0000\n\n"
               "On Mon, 3 Mar 2025 at 10:15, Example Support <support@example.com> wrote:\n> When may we call?\n")
    parsed = parse_email(raw)
    assert (parsed.text, parsed.signature) == ("Please call me tomorrow.", "Dana Reyes\n+44 20 7946 0000")
    message = to_inbound(parsed, received_at=NOW)
    assert message.text == "Please call me tomorrow."
    assert message.meta["signature"] == "Dana Reyes\n+44 20 7946 0000"
    assert "When may we call?" in message.full_text and "+44 20 7946 0000" in message.full_text


def test_attached_mail_is_a_forward_with_its_sender_and_date():
    parsed = parse_email((CORPUS / "attachments.eml").read_bytes())
    [forwarded] = parsed.forwards
    assert (forwarded.sender, forwarded.subject, forwarded.text) == (
        "billing@example.com", "Your invoice", "Invoice attached.")
    message = to_inbound(parsed, received_at=NOW)
    assert message.text == ("See the attached invoice and screenshot.\n\n"
                            "---------- Forwarded message ----------\nFrom: billing@example.com\n"
                            "Subject: Your invoice\n\nInvoice attached.")
    assert json.loads(message.meta["forwarded"]) == [
        {"sender": "billing@example.com", "date": "", "subject": "Your invoice"}]


def test_forward_as_attachment_built_like_outlook_does():
    inner = EmailMessage()
    inner["From"] = "Shop <orders@shop.example>"
    inner["Date"] = "Tue, 18 Mar 2025 07:45:00 +0000"
    inner["Subject"] = "Order confirmation 5521"
    inner.set_content("Thank you for your order 5521.")
    outer = EmailMessage()
    outer["From"] = "kim@customer.example"
    outer["To"] = "support@example.com"
    outer["Subject"] = "FW: Order confirmation 5521"
    outer.set_content("I never placed this order.")
    outer.add_attachment(inner)
    parsed = parse_email(outer.as_bytes())
    assert parsed.text == "I never placed this order."
    assert [(f.sender, f.date, f.subject, f.text) for f in parsed.forwards] == [
        ("Shop <orders@shop.example>", "Tue, 18 Mar 2025 07:45:00 +0000", "Order confirmation 5521",
         "Thank you for your order 5521.")]


def test_forwarded_block_in_the_body_is_kept_and_marked():
    raw = mail("Can you check this order? I never placed it.\n\n________________________________\n"
               "From: Shop <orders@shop.example>\nSent: Tuesday, March 18, 2025 7:45 AM\n"
               "To: Kim Lee <kim@customer.example>\nSubject: Order confirmation 5521\n\n"
               "Thank you for your order 5521.\n", subject="FW: Order confirmation 5521")
    message = to_inbound(parse_email(raw), received_at=NOW)
    assert message.text == ("Can you check this order? I never placed it.\n\n"
                            "---------- Forwarded message ----------\nFrom: Shop <orders@shop.example>\n"
                            "Date: Tuesday, March 18, 2025 7:45 AM\nSubject: Order confirmation 5521\n\n"
                            "Thank you for your order 5521.")


def test_html_only_outlook_reply_loses_its_history():
    html = ("<html><body><p>Please cancel the second order.</p><p>Regards<br>Priya</p>"
            "<div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in'>"
            "<p><b>From:</b> Example Support &lt;<a href='mailto:support@example.com'>support@example.com</a>&gt;"
            "<br><b>Sent:</b> Friday, March 7, 2025 2:14 PM<br><b>To:</b> Priya Raman"
            "<br><b>Subject:</b> RE: Two orders</p></div><p>Which one should we cancel?</p></body></html>")
    msg = EmailMessage()
    msg["From"] = "priya@partner.example"
    msg["To"] = "support@example.com"
    msg["Subject"] = "RE: Two orders"
    msg.set_content(html, subtype="html")
    parsed = parse_email(msg.as_bytes())
    assert parsed.text == "Please cancel the second order.\n\nRegards\nPriya"
    assert "Which one should we cancel?" in parsed.full_text


def test_html_gmail_reply_blockquote_is_history():
    html = ('<div dir="ltr">Yes, Thursday is fine.</div><br><div class="gmail_quote"><div dir="ltr" '
            'class="gmail_attr">On Wed, 5 Mar 2025 at 18:40, Example Support &lt;<a href="mailto:support@'
            'example.com">support@example.com</a>&gt; wrote:<br></div><blockquote class="gmail_quote">'
            'Would Thursday suit you?</blockquote></div>')
    parsed = parse_email(mail("", html=html))
    assert parsed.text == "Yes, Thursday is fine."


def test_a_word_in_the_quoted_history_is_not_in_the_text():
    raw = mail("Thanks, all good now.\n\nOn Mon, 3 Mar 2025 at 10:15, Example Support <support@example.com> wrote:\n"
               "> Your refund for the invoice was sent.\n")
    message = to_inbound(parse_email(raw), received_at=NOW)
    assert "refund" not in message.text and "invoice" not in message.text
    assert "refund" in message.full_text


def test_every_header_label_means_one_field():
    for fields in LABELS.values():
        for name, labels in fields.items():
            for label in labels:
                assert shapes.LABEL_INDEX[label.lower()][0] == name, label


def test_html_lists_nested_thousands_deep_are_read_flattened_in_bounded_time():
    """html2text indents every level: 40,000 nested list items (400 KiB) would become billions of
    characters; past MAX_HTML_NESTING levels the list tags are dropped and the words kept."""
    html = "<p>Please cancel order 4411.</p>" + "<ul><li>item" * 40_000
    msg = EmailMessage()
    msg["From"] = "mallory@attacker.example"
    msg["To"] = "support@example.com"
    msg["Subject"] = "lists"
    msg.set_content(html, subtype="html")
    started = time.process_time()
    parsed = parse_email(msg.as_bytes())
    # Unbounded: minutes of CPU and gigabytes of text (2.5 s at 32 KiB, growing with the square).
    assert time.process_time() - started < 20
    assert parsed.text.startswith("Please cancel order 4411.")
    assert len(parsed.full_text) <= MAX_TEXT_CHARS and "item" in parsed.full_text
    assert f"nested deeper than {MAX_HTML_NESTING} levels" in "; ".join(parsed.problems)


def test_html_lists_and_quotes_nested_a_few_levels_convert_as_before():
    html = "<p>Hi</p><ul><li>one<ul><li>two</li></ul></li></ul><blockquote>q<blockquote>r</blockquote></blockquote>"
    parsed = parse_email(mail("", html=html))
    assert "* one\n    * two" in parsed.full_text and ">> r" in parsed.full_text
    assert not any("nested deeper" in problem for problem in parsed.problems)


def test_lines_shaped_almost_like_reply_headers_cost_about_what_prose_costs():
    """Every line of a mail is tried as a reply header; a mail of near-headers (date, time, address,
    a verb at the end, never the whole shape) must not cost much more than as much prose. Measured
    against prose in the same process, so a loaded machine slows both alike."""
    def cost(text: str) -> float:
        started = time.process_time()
        for _ in range(3):
            split_body(text)
        return time.process_time() - started

    near = "\n".join(f"Line {n} of my text, at 12:30 on 2024-01-01 support@example.com wrote" for n in range(2000))
    prose = "\n".join(f"Line {n} of my text, about the parcel and the refund, sent again" for n in range(2000))
    assert split_body(near).text == near
    assert cost(near) < 5 * cost(prose) + 0.05
