"""Property-based: any mail, by SMTP, Mailgun or SendGrid, is stored once or refused cleanly.

Mail is generated from its parts (headers real and forged, every content
type, charset and transfer encoding, multiparts nested and broken,
Authentication-Results) and, now and then, as raw bytes. The pure path each
transport takes (the webhook's form → ``WebhookMail``, then ``read_mail`` and
``to_inbound``, as the parser worker runs them) and the edges (real SMTP
DATA to the listener, multipart POSTs to the two webhooks) take 1,000
examples each in CI. The edges: never a 5xx (SMTP: never a 451 "try again"), never an
unhandled exception in the log, nothing stored for a refused mail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from datetime import UTC, datetime

import aiosmtplib
import pytest
from aiohttp import FormData
from hypothesis import event, given, settings
from hypothesis import strategies as st

from channels.email import authresults, webhooks
from channels.email.body import MAX_TEXT_CHARS
from channels.email.inbound import to_inbound
from channels.email.parsing import read_mail
from conversations.messages import InvalidPayload, InvalidSignature
from gateway.appkeys import SERVICES
from tests import hypothesis_profiles
from tests.email.conftest import MAILGUN_KEY, SENDGRID_SECRET, SUPPORT
from tests.snapshots import changes, snapshot

PROFILE = hypothesis_profiles.load()
# Whole-app deliveries: 1,000 in CI like every suite (issue 10), a quick 30 on a laptop.
EDGE_EXAMPLES = hypothesis_profiles.CI_EXAMPLES if PROFILE == "ci" else 30
TRUSTED = "mx.example.com"

# -- mail, part by part --------------------------------------------------------------------------------------

header_text = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=60),
    st.sampled_from(["=?utf-8?q?Caf=C3=A9?=", "=?iso-8859-1?b?SGFsbG8=?=", "=?bogus?x?zz?=", "=?utf-8?q?", "\t",
                     '"Ada, L." <ada@customer.example>', "<>", "x" * 2000, "a\u0000b", "<!channel>"]),
)
addresses = st.one_of(
    st.sampled_from(["ada@customer.example", "Ada Lovelace <ada@customer.example>", "bob@other.example",
                     "MAILER-DAEMON@mx.example.org", "support@example.com", "support+cnv_x-abc@example.com",
                     "no-at-sign", "", "<>", "a@b", '"weird name" <w@x.example>', "Ada <ada@customer.example>, b@c.de"]),
    header_text,
)
valid_senders = st.sampled_from(["ada@customer.example", "Ada Lovelace <ada@customer.example>", "bob@other.example",
                                 "=?utf-8?q?Z=C3=BCrich?= <z@customer.example>", "EVE@Evil.Example"])
from_headers = st.integers(0, 3).flatmap(lambda n: valid_senders if n else addresses)  # 3 in 4 usable
results = st.one_of(
    st.sampled_from([f"{TRUSTED}; dmarc=fail header.from=customer.example", f"{TRUSTED}; dmarc=pass",
                     "other.example; dmarc=fail", f"{TRUSTED}; (comment (nested)) dmarc = fail", f"{TRUSTED}",
                     f"{TRUSTED}; dmarc=fail reason=\"a;b\"", ";;", "(((((("]),
    header_text,
)
HEADER_NAMES = ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Reply-To", "Date",
                "Auto-Submitted", "Precedence", "List-Id", "X-Autoreply", "Content-Disposition", "Delivered-To"]
charsets = st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "shift_jis", "iso-2022-jp", "gb2312", "koi8-r",
                            "utf-16", "x-unknown", "bogus-charset", '"utf-8"', ""])
encodings = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus"])
leaf_types = st.sampled_from(["text/plain", "text/html", "application/octet-stream", "image/png", "message/rfc822",
                              "message/delivery-status", "text/rfc822-headers", "application/pdf", "bogus"])
bodies = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.sampled_from(["<html><body><p>Hello</p><script>x</script></body></html>", "<p>" * 500, "On Mon, Ada wrote:\n> hi",
                     "Thanks!\n\n-- \nAda", "=E9=3D=\r\n=ZZ", "!!not base64!!", "begin 644 x\n`\nend"]),
)


def encode_body(body: str | bytes, charset: str, encoding: str) -> bytes:
    data = body.encode(charset.strip('"') or "utf-8", "replace") if isinstance(body, str) and charset.strip('"') in (
        "utf-8", "iso-8859-1", "windows-1252", "shift_jis", "koi8-r") else (
        body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body)
    if encoding == "base64":
        return base64.encodebytes(data)
    if encoding == "quoted-printable":
        import quopri

        return quopri.encodestring(data)
    return data


@st.composite
def leaves(draw: st.DrawFn) -> bytes:
    kind, charset, encoding = draw(leaf_types), draw(charsets), draw(encodings)
    head = f"Content-Type: {kind}" + (f"; charset={charset}" if draw(st.booleans()) else "")
    if draw(st.booleans()):
        head += f"; name=\"{draw(st.text(max_size=12))}\""
    head += f"\r\nContent-Transfer-Encoding: {encoding}"
    if draw(st.integers(0, 3)) == 0:
        head += f"\r\nContent-Disposition: {draw(st.sampled_from(['attachment', 'inline', 'bogus']))}; " \
                f"filename=\"{draw(st.text(max_size=12))}\""
    return head.encode("utf-8", "surrogatepass") + b"\r\n\r\n" + encode_body(draw(bodies), charset, encoding)


def multipart(children: st.SearchStrategy) -> st.SearchStrategy:
    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        boundary = draw(st.one_of(st.uuids().map(lambda u: u.hex[:16]), st.sampled_from(["", "a", "--", "x y"])))
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "signed", "bogus"]))
        parts = draw(st.lists(children, max_size=4))
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
        if draw(st.integers(0, 4)):  # the closing delimiter, usually
            body += b"--" + boundary.encode() + b"--\r\n"
        return f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode() + body
    return build()


parts = st.recursive(leaves(), multipart, max_leaves=6)


@st.composite
def mails(draw: st.DrawFn) -> bytes:
    headers = []
    if draw(st.integers(0, 9)):  # a From, usually; sometimes two
        headers += [("From", draw(from_headers)) for _ in range(draw(st.sampled_from([1, 1, 1, 2])))]
    headers.append(("To", draw(st.one_of(st.just(SUPPORT), addresses))))
    for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=5)):
        headers.append((name, draw(header_text)))
    for _ in range(draw(st.integers(0, 2))):
        headers.append(("Authentication-Results", draw(results)))
    if draw(st.booleans()):
        headers.append(("Message-ID", f"<{draw(st.uuids()).hex}@customer.example>"))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8", "surrogatepass")
    return head + b"MIME-Version: 1.0\r\n" + draw(parts)


raw_mails = st.one_of(mails(), mails(), mails(), st.binary(max_size=400))


def read_and_check(raw: bytes, envelope_from: str | None, recipients: list[str]) -> None:
    """What the parser worker runs, then what intake does with it: refused cleanly or read completely."""
    try:
        parsed = read_mail(raw, envelope_from=envelope_from, recipients=recipients)
    except InvalidPayload as error:
        event(f"refused: {str(error)[:30]}")
        return
    unverified = authresults.dmarc_failure(parsed.authentication_results, {TRUSTED})
    inbound = to_inbound(parsed, received_at=datetime.now(UTC), unverified=unverified)
    event("unverified" if unverified else ("bounce" if parsed.bounce else parsed.verdict.kind.value))
    assert len(inbound.full_text or "") <= MAX_TEXT_CHARS
    assert inbound.identity.address.startswith(authresults.UNVERIFIED_PREFIX) == bool(unverified)
    assert "@" in inbound.identity.address


# -- the pure path: 1,000 examples each in CI ----------------------------------------------------------------


@given(raw=raw_mails, envelope_from=st.one_of(st.none(), st.just(""), valid_senders, addresses),
       recipients=st.lists(addresses, max_size=3))
def test_any_smtp_data_is_read_or_refused(raw, envelope_from, recipients):
    read_and_check(raw, envelope_from, recipients)


timestamps = st.one_of(st.just("now"), st.just("now"), st.just("now"), st.just("now"), st.sampled_from(["inf", "nan", "-inf", "1e9", "0", "", "17000000000000",
                                                        "1.5", "0x10", "\u0661\u0667"]), st.text(max_size=12))
signing = st.sampled_from(["signed"] * 6 + ["wrong key", "unsigned", "garbage"])


@st.composite
def mailgun_forms(draw: st.DrawFn) -> dict[str, bytes]:
    timestamp = draw(timestamps)
    timestamp = str(int(time.time())) if timestamp == "now" else timestamp
    token = draw(st.one_of(st.uuids().map(lambda u: u.hex * 2), st.uuids().map(lambda u: u.hex * 2),
                           st.text(max_size=20)))
    how = draw(signing)
    key = {"signed": MAILGUN_KEY, "wrong key": "other"}.get(how, MAILGUN_KEY)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode("utf-8", "surrogatepass"),
                         hashlib.sha256).hexdigest()
    fields = {"timestamp": timestamp, "token": token, "recipient": draw(addresses), "sender": draw(addresses)}
    if how != "unsigned":
        fields["signature"] = signature if how != "garbage" else draw(st.text(max_size=70))
    form = {k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()}
    if draw(st.integers(0, 9)):
        form["body-mime"] = draw(raw_mails)
    return form


@given(form=mailgun_forms())
def test_any_mailgun_form_is_verified_then_read_or_refused(form):
    try:
        mail = webhooks.mailgun_mail(form, MAILGUN_KEY.encode(), now=time.time())
    except (InvalidSignature, InvalidPayload) as error:
        event(type(error).__name__)
        return
    read_and_check(mail.raw, mail.envelope_from, mail.recipients)


credentials = st.one_of(
    st.just({"Authorization": "Basic " + base64.b64encode(f"sendgrid:{SENDGRID_SECRET}".encode()).decode()}),
    st.just({"X-Gateway-Secret": SENDGRID_SECRET}),
    st.builds(lambda user, password: {"Authorization": "Basic " + base64.b64encode(
        f"{user}:{password}".encode("utf-8", "surrogatepass")).decode()}, st.text(max_size=8), st.text(max_size=12)),
    # What an HTTP client can put in a header: no control characters.
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"),
            max_size=40).map(lambda value: {"Authorization": value}),
    st.just({}),
)
envelopes = st.one_of(st.sampled_from(['{"to": ["support@example.com"], "from": "ada@customer.example"}', "null",
                                       "[]", '"str"', "{", "[" * 3000, '{"to": "x", "from": 5}']),
                      st.text(max_size=40))


@st.composite
def sendgrid_forms(draw: st.DrawFn) -> dict[str, bytes]:
    form = {"envelope": draw(envelopes).encode("utf-8", "surrogatepass"), "charsets": b"{}"}
    if draw(st.integers(0, 9)):
        form["email"] = draw(raw_mails)
    return form


@given(headers=credentials, form=sendgrid_forms())
def test_any_sendgrid_request_is_authorized_then_read_or_refused(headers, form):
    given = webhooks.given_secret(headers)
    if given != SENDGRID_SECRET:
        event("not authorized")
        return
    try:
        mail = webhooks.sendgrid_mail(form)
    except InvalidPayload:
        event("no email field")
        return
    read_and_check(mail.raw, mail.envelope_from, mail.recipients)


# -- the edges: 1,000 examples each in CI ------------------------------------------------------------------


def assert_no_unhandled_errors(caplog) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in errors)


async def before_example(client, caplog) -> tuple:
    redis = client.app[SERVICES].redis
    await redis.flushall()  # each example starts from nothing: snapshots stay small
    caplog.set_level(logging.WARNING)
    caplog.clear()
    return redis, await snapshot(redis)


def multipart_form(form: dict[str, bytes]) -> FormData:
    data = FormData()
    for name, value in form.items():
        if name in ("body-mime", "email"):
            data.add_field(name, value, filename="message.mime", content_type="message/rfc822")
        else:
            data.add_field(name, value.decode("utf-8", "surrogateescape"))
    return data


@pytest.mark.timeout(900)
@settings(max_examples=EDGE_EXAMPLES)
@given(raw=raw_mails, sender=st.sampled_from(["ada@customer.example", "bob@other.example"]))
async def test_any_mail_by_smtp_is_stored_or_refused_never_451(mail_gateway, caplog, raw, sender):
    redis, before = await before_example(mail_gateway, caplog)
    try:
        await aiosmtplib.send(raw, sender=sender, recipients=[SUPPORT], hostname="127.0.0.1",
                              port=mail_gateway.smtp_port, start_tls=False, timeout=60)
        code = 250
    except aiosmtplib.SMTPResponseException as error:
        code = error.code
    except aiosmtplib.SMTPException as error:  # the client's own refusal to send it (not our answer)
        event(f"client refused: {type(error).__name__}")
        return
    event(str(code))
    # 250 stored; 550 refused for good (no sender, nested too deep); 552 too large; 500 a line too long.
    assert code in (250, 500, 550, 552), code
    assert_no_unhandled_errors(caplog)
    if code >= 400:
        assert changes(before, await snapshot(redis)) == []


@pytest.mark.timeout(900)
@settings(max_examples=EDGE_EXAMPLES)
@given(form=mailgun_forms())
async def test_any_mailgun_post_is_answered_below_500_and_a_refusal_stores_nothing(mail_gateway, caplog, form):
    redis, before = await before_example(mail_gateway, caplog)
    response = await mail_gateway.post(webhooks.MAILGUN_PATH, data=multipart_form(form))
    body = await response.text()
    event(str(response.status))
    assert response.status < 500, body
    assert_no_unhandled_errors(caplog)
    if response.status >= 400:
        after = await snapshot(redis)
        # A refused mail keeps its token used (a replay of it must stay refused): that marker, nothing else.
        assert [k for k in changes(before, after) if ":email:mailgun_token:" not in k] == [], body


@pytest.mark.timeout(900)
@settings(max_examples=EDGE_EXAMPLES)
@given(headers=credentials, form=sendgrid_forms())
async def test_any_sendgrid_post_is_answered_below_500_and_a_refusal_stores_nothing(mail_gateway, caplog, headers,
                                                                                    form):
    redis, before = await before_example(mail_gateway, caplog)
    response = await mail_gateway.post(webhooks.SENDGRID_PATH, data=multipart_form(form), headers=headers)
    body = await response.text()
    event(str(response.status))
    assert response.status < 500, body
    assert_no_unhandled_errors(caplog)
    if response.status >= 400:
        assert changes(before, await snapshot(redis)) == [], body
