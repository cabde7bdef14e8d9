"""Raw MIME by webhook: Mailgun's ``.../mime`` route and SendGrid Inbound Parse (raw mode).

Both read the multipart body as a stream with the email size limit (the app's
``client_max_size`` is sized for JSON, not for mail with attachments), verify
the caller as early as the provider allows, and hand the MIME to
``intake.receive``. A ``Content-Length`` over the limit is refused before any
of the body is read; every field but the MIME itself is capped at
``SMALL_FIELD_BYTES``.

Mailgun signs ``timestamp + token`` and sends the three fields in the same
form as the mail: the signature is checked the moment those fields have
arrived, so when they come before ``body-mime`` a forged request is refused
without reading the mail. Answers: bad or missing signature or a stale
timestamp → 403 (Mailgun retries, so a mis-set signing key loses nothing
while it is fixed; forgers get nothing either way); a reused token → 406
(the first delivery was stored, a replay must not be retried); too large or
unreadable → 406 (retrying cannot help); storage or parser down → 503 (retry).

SendGrid cannot sign; its secret comes as HTTP basic auth (the Inbound Parse
URL ``https://sendgrid:SECRET@host/email/sendgrid``; the password is the
secret) or an ``X-Gateway-Secret`` header (a proxy in front can add it), and
is checked before the body is read. The older URL with the secret as the last
path segment still works; it puts the secret into every access-log line of
whatever proxy sits in front, so it is deprecated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from aiohttp import MultipartReader, web

from channels.deps import CHANNEL_DEPS
from channels.email import intake
from channels.email.keys import mailgun_token_key
from channels.email.pool import PARSER, ParserUnavailable
from channels.email.settings import EmailSettings
from conversations.clock import now_seconds
from conversations.messages import InvalidPayload, InvalidSignature

log = logging.getLogger("gateway.email.webhooks")

MAILGUN_PATH = "/email/mailgun/mime"
SENDGRID_PATH = "/email/sendgrid"
SENDGRID_LEGACY_PATH = "/email/sendgrid/{secret}"
SECRET_HEADER = "X-Gateway-Secret"
MAILGUN_MAX_AGE = 15 * 60  # seconds a Mailgun signature stays valid
MAILGUN_TOKEN_TTL = 2 * MAILGUN_MAX_AGE  # a used token is remembered past its validity
MAILGUN_SIGNED = ("timestamp", "token", "signature")
FORM_OVERHEAD = 64 * 1024  # the webhook's own fields around the MIME, all together
SMALL_FIELD_BYTES = 16 * 1024  # one field that is not the MIME (envelope, sender, signature, ...)
MAX_FIELDS = 64  # Mailgun sends about 15 fields with a MIME route, SendGrid about 10
MAX_RECIPIENTS = 100  # envelope recipients looked at (reply addresses); as the SMTP listener accepts
TIMESTAMP = re.compile(r"^[0-9]{1,12}(?:\.[0-9]{1,9})?$")  # Unix seconds; never "inf", "nan" or "1e9"


SETTINGS: web.AppKey[EmailSettings] = web.AppKey("email_settings", EmailSettings)


class TooLarge(Exception):
    pass


def verify_mailgun(signing_key: bytes, timestamp: str, token: str, signature: str, *, now: float) -> None:
    """Check Mailgun's hex HMAC-SHA256 of ``timestamp + token`` and the timestamp's age."""
    if not (timestamp and token and signature):
        raise InvalidSignature("timestamp, token and signature are required")
    expected = hmac.new(signing_key, (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise InvalidSignature("the Mailgun signature does not match")
    if not TIMESTAMP.match(timestamp):
        raise InvalidSignature("the timestamp is not a number of seconds")
    age = abs(now - float(timestamp))
    if not math.isfinite(age) or age > MAILGUN_MAX_AGE:
        raise InvalidSignature(f"the signature is stale ({int(age) if math.isfinite(age) else '?'} s old)")


Check = Callable[[dict[str, bytes]], None]


async def read_form(request: web.Request, limit: int, *, large: Collection[str],
                    check: Check | None = None) -> dict[str, bytes]:
    """Every field of a multipart/form-data (or urlencoded) body, refusing more than ``limit`` bytes.

    Only the ``large`` fields may be big; any other field over ``SMALL_FIELD_BYTES``, or all of them
    over ``FORM_OVERHEAD``, is refused. ``check`` sees the fields read so far after each one, so a
    caller can refuse the request (by raising) before the rest of the body is read.

    Raises:
        TooLarge: over ``limit`` (by ``Content-Length``, before reading, or while reading).
        InvalidPayload: a form that cannot be read.
    """
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge()
    try:
        if request.content_type != "multipart/form-data":
            form = await request.post()
            fields = {k: _form_bytes(v) for k, v in form.items()}
            if check is not None:
                check(fields)
            return fields
        return await _read_multipart(await request.multipart(), limit, large, check)
    except (TooLarge, InvalidPayload, InvalidSignature, web.HTTPException, OSError):
        raise  # ours; an HTTP answer (413 from client_max_size); the client went away
    except Exception as error:  # the multipart reader's ValueError, RuntimeError, LookupError, ...
        raise InvalidPayload(f"unreadable form body: {type(error).__name__}") from None


async def _read_multipart(reader: MultipartReader, limit: int, large: Collection[str],
                          check: Check | None) -> dict[str, bytes]:
    fields: dict[str, bytes] = {}
    total = small_total = count = 0
    while (part := await reader.next()) is not None:
        count += 1
        if count > MAX_FIELDS:
            raise InvalidPayload(f"more than {MAX_FIELDS} form fields")
        if isinstance(part, MultipartReader):
            raise InvalidPayload("a form field may not itself be multipart")
        cap = limit if part.name in large else SMALL_FIELD_BYTES
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            total += len(chunk)
            if total > limit:
                raise TooLarge()
            data.extend(chunk)
            if len(data) > cap:
                raise TooLarge() if cap == limit else InvalidPayload(f"the field {part.name!r} is too long")
        if part.name not in large:
            small_total += len(data)
            if small_total > FORM_OVERHEAD:
                raise InvalidPayload("the form's fields are too long")
        if part.name:
            fields.setdefault(part.name, bytes(data))
            if check is not None:
                check(fields)
    return fields


def _form_bytes(value: str | bytes | bytearray | web.FileField) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, web.FileField):
        return value.file.read()
    return bytes(value)


def _text(fields: dict[str, bytes], name: str) -> str:
    return fields.get(name, b"").decode("utf-8", "replace").strip()


def _problem(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


@dataclass(frozen=True, slots=True)
class WebhookMail:
    """What a webhook's form says about one mail, once the caller is verified."""

    raw: bytes
    envelope_from: str | None
    recipients: list[str]
    token: str = ""  # Mailgun's: a used token is refused (replays)


def mailgun_mail(fields: dict[str, bytes], signing_key: bytes, *, now: float) -> WebhookMail:
    """Mailgun's form, verified. Pure.

    Raises:
        InvalidSignature: bad, missing or stale signature.
        InvalidPayload: no ``body-mime`` (a route not ending in ``/mime``).
    """
    verify_mailgun(signing_key, _text(fields, "timestamp"), _text(fields, "token"), _text(fields, "signature"),
                   now=now)
    raw = fields.get("body-mime")
    if not raw:
        raise InvalidPayload("body-mime is missing; the route must end in /mime")
    recipients = [r.strip() for r in _text(fields, "recipient").split(",") if r.strip()][:MAX_RECIPIENTS]
    return WebhookMail(raw, _text(fields, "sender") or None, recipients, _text(fields, "token"))


def sendgrid_mail(fields: dict[str, bytes]) -> WebhookMail:
    """SendGrid's raw Inbound Parse form (the caller was verified before it was read). Pure.

    Raises:
        InvalidPayload: no ``email`` field (the raw mode is off).
    """
    raw = fields.get("email")
    if not raw:
        raise InvalidPayload("the email field is missing; turn on 'POST the raw, full MIME message'")
    sender, recipients = read_envelope(_text(fields, "envelope"))
    return WebhookMail(raw, sender, recipients)


async def mailgun(request: web.Request) -> web.Response:
    deps, email, parser = request.app[CHANNEL_DEPS], request.app[SETTINGS], request.app[PARSER]
    key = email.mailgun_signing_key
    if key is None or not email.mailgun:
        raise web.HTTPNotFound(text="Mailgun is not configured: set GATEWAY_EMAIL__MAILGUN_SIGNING_KEY")
    signing_key = key.get_secret_value().encode()

    checked = False

    def check(fields: dict[str, bytes]) -> None:
        """As soon as the signed fields are in: a forgery is refused before the mail is read."""
        nonlocal checked
        if not checked and all(name in fields for name in MAILGUN_SIGNED):
            checked = True
            verify_mailgun(signing_key, _text(fields, "timestamp"), _text(fields, "token"),
                           _text(fields, "signature"), now=now_seconds())

    try:
        fields = await read_form(request, email.max_message_bytes + FORM_OVERHEAD, large={"body-mime"},
                                 check=check)
        mail = mailgun_mail(fields, signing_key, now=now_seconds())
    except InvalidSignature as error:
        log.warning("refused a Mailgun request: %s", error)
        return _problem(403, str(error))
    except TooLarge:
        return _problem(406, "message too large")
    except InvalidPayload as error:
        return _problem(406, str(error))
    marker = mailgun_token_key(mail.token)
    if not await deps.redis.set(marker, "1", nx=True, ex=MAILGUN_TOKEN_TTL):
        return _problem(406, "this token was already used")
    try:
        outcome = await intake.receive(deps, email, parser, mail.raw, envelope_from=mail.envelope_from,
                                       recipients=mail.recipients)
    except InvalidPayload as error:
        return _problem(406, str(error))  # the token stays used: this mail is refused for good
    except ParserUnavailable as error:
        await deps.redis.delete(marker)  # not stored: Mailgun's retry must be accepted
        return _problem(503, str(error))
    except BaseException:
        await deps.redis.delete(marker)
        raise
    return web.json_response({"outcome": outcome.kind, "conversation_id": outcome.conversation_id})


def given_secret(headers: Mapping[str, str]) -> str | None:
    """The SendGrid secret the caller sent: basic auth's password, or the ``X-Gateway-Secret`` header. Pure."""
    header = headers.get(SECRET_HEADER)
    if header:
        return header
    scheme, _, credentials = headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return password if colon else None


def _sendgrid_configured(email: EmailSettings) -> None:
    if not email.sendgrid:
        raise web.HTTPNotFound(text="SendGrid is not configured: set GATEWAY_EMAIL__SENDGRID_SECRET")


def _secret_matches(email: EmailSettings, given: str | None) -> bool:
    secret = email.sendgrid_secret
    if secret is None or not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret.get_secret_value().encode())


async def sendgrid(request: web.Request) -> web.Response:
    """``POST /email/sendgrid`` with the secret as basic auth or ``X-Gateway-Secret``."""
    _sendgrid_configured(request.app[SETTINGS])
    given = given_secret(request.headers)
    if given is None:
        # Some clients send basic credentials only when asked: ask (before any of the body is read).
        return web.json_response({"error": "credentials required"}, status=401,
                                 headers={"WWW-Authenticate": 'Basic realm="sendgrid"'})
    if not _secret_matches(request.app[SETTINGS], given):
        raise web.HTTPForbidden(text="wrong inbound parse secret")
    return await _sendgrid(request)


async def sendgrid_legacy(request: web.Request) -> web.Response:
    """``POST /email/sendgrid/{secret}``: the older URL. The access log shows the path redacted."""
    _sendgrid_configured(request.app[SETTINGS])
    if not _secret_matches(request.app[SETTINGS], request.match_info["secret"]):
        raise web.HTTPForbidden(text="unknown inbound parse URL")
    global _legacy_warned
    if not _legacy_warned:
        _legacy_warned = True
        log.warning("SendGrid posts to the old URL with the secret in its path; set the Inbound Parse URL to "
                    "https://sendgrid:SECRET@<host>%s instead (docs/CHANNELS.md)", SENDGRID_PATH)
    return await _sendgrid(request)


_legacy_warned = False  # the deprecation is logged once per process, not once per mail


async def _sendgrid(request: web.Request) -> web.Response:
    deps, email, parser = request.app[CHANNEL_DEPS], request.app[SETTINGS], request.app[PARSER]
    try:
        fields = await read_form(request, email.max_message_bytes + FORM_OVERHEAD, large={"email"})
    except TooLarge:
        raise web.HTTPRequestEntityTooLarge(email.max_message_bytes, 0) from None
    mail = sendgrid_mail(fields)
    try:
        outcome = await intake.receive(deps, email, parser, mail.raw, envelope_from=mail.envelope_from,
                                       recipients=mail.recipients)
    except ParserUnavailable as error:
        return _problem(503, str(error))
    return web.json_response({"outcome": outcome.kind, "conversation_id": outcome.conversation_id})


def read_envelope(text: str) -> tuple[str | None, list[str]]:
    """SendGrid's ``envelope`` JSON (``{"to": [...], "from": "..."}``) as (sender, recipients).

    The envelope only adds to what the MIME says, so anything unreadable in it is ignored.
    """
    try:
        envelope = json.loads(text) if text else {}
    except (ValueError, RecursionError):
        return None, []
    if not isinstance(envelope, dict):
        return None, []
    to = envelope.get("to")
    recipients = [r for r in to if isinstance(r, str)][:MAX_RECIPIENTS] if isinstance(to, list) else []
    sender = envelope.get("from")
    return (sender if isinstance(sender, str) else None), recipients
