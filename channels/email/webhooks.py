"""Raw MIME by webhook: Mailgun's ``.../mime`` route and SendGrid Inbound Parse (raw mode).

Both read the multipart body as a stream with the email size limit (the app's
``client_max_size`` is sized for JSON, not for mail with attachments), verify
the caller, and hand the MIME to ``intake.receive``.

Mailgun answers: bad or missing signature or a stale timestamp → 403 (Mailgun
retries, so a mis-set signing key loses nothing while it is fixed; forgers get
nothing either way); a reused token → 406 (the first delivery was stored, a
replay must not be retried); too large or unreadable → 406 (retrying cannot
help); storage down → 503 (retry).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

from aiohttp import web

from channels.deps import CHANNEL_DEPS
from channels.email import intake
from channels.email.keys import mailgun_token_key
from channels.email.settings import EmailSettings
from conversations.messages import InvalidPayload, InvalidSignature

log = logging.getLogger("gateway.email.webhooks")

MAILGUN_PATH = "/email/mailgun/mime"
SENDGRID_PATH = "/email/sendgrid/{secret}"
MAILGUN_MAX_AGE = 15 * 60  # seconds a Mailgun signature stays valid
MAILGUN_TOKEN_TTL = 2 * MAILGUN_MAX_AGE  # a used token is remembered past its validity
FORM_OVERHEAD = 64 * 1024  # the webhook's own fields around the MIME


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
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        raise InvalidSignature("the timestamp is not a number") from None
    if age > MAILGUN_MAX_AGE:
        raise InvalidSignature(f"the signature is stale ({int(age)} s old)")


async def read_form(request: web.Request, limit: int) -> dict[str, bytes]:
    """Every field of a multipart/form-data (or urlencoded) body, refusing more than ``limit`` bytes."""
    if request.content_type != "multipart/form-data":
        if request.content_length and request.content_length > limit:
            raise TooLarge()
        return {k: _form_bytes(v) for k, v in (await request.post()).items()}
    fields: dict[str, bytes] = {}
    total = 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):  # type: ignore[union-attr]
            total += len(chunk)
            if total > limit:
                raise TooLarge()
            data.extend(chunk)
        if part.name:  # type: ignore[union-attr]
            fields.setdefault(part.name, bytes(data))  # type: ignore[union-attr]
    return fields


def _form_bytes(value: str | bytes | bytearray | web.FileField) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, web.FileField):
        return value.file.read()
    return bytes(value)


def _text(fields: dict[str, bytes], name: str) -> str:
    return fields.get(name, b"").decode("utf-8", "replace").strip()


async def mailgun(request: web.Request) -> web.Response:
    deps, email = request.app[CHANNEL_DEPS], request.app[SETTINGS]
    key = email.mailgun_signing_key
    if key is None or not email.mailgun:
        raise web.HTTPNotFound(text="Mailgun is not configured: set GATEWAY_EMAIL__MAILGUN_SIGNING_KEY")
    try:
        fields = await read_form(request, email.max_message_bytes + FORM_OVERHEAD)
    except TooLarge:
        return web.json_response({"error": "message too large"}, status=406)
    token = _text(fields, "token")
    try:
        verify_mailgun(key.get_secret_value().encode(), _text(fields, "timestamp"), token,
                       _text(fields, "signature"), now=time.time())
    except InvalidSignature as error:
        log.warning("refused a Mailgun request: %s", error)
        raise web.HTTPForbidden(text=str(error)) from None
    raw = fields.get("body-mime")
    if not raw:
        return web.json_response({"error": "body-mime is missing; the route must end in /mime"}, status=406)
    marker = mailgun_token_key(token)
    if not await deps.redis.set(marker, "1", nx=True, ex=MAILGUN_TOKEN_TTL):
        return web.json_response({"error": "this token was already used"}, status=406)
    recipients = [r.strip() for r in _text(fields, "recipient").split(",") if r.strip()]
    try:
        outcome = await intake.receive(deps, email, raw, envelope_from=_text(fields, "sender") or None,
                                       recipients=recipients)
    except InvalidPayload as error:
        return web.json_response({"error": str(error)}, status=406)
    except BaseException:
        await deps.redis.delete(marker)  # not stored: Mailgun's retry must be accepted
        raise
    return web.json_response({"outcome": outcome.kind, "conversation_id": outcome.conversation_id})


async def sendgrid(request: web.Request) -> web.Response:
    deps, email = request.app[CHANNEL_DEPS], request.app[SETTINGS]
    secret = email.sendgrid_secret
    if secret is None or not email.sendgrid:
        raise web.HTTPNotFound(text="SendGrid is not configured: set GATEWAY_EMAIL__SENDGRID_SECRET")
    given = request.match_info["secret"].encode()
    if not hmac.compare_digest(given, secret.get_secret_value().encode()):
        raise web.HTTPForbidden(text="unknown inbound parse URL")
    try:
        fields = await read_form(request, email.max_message_bytes + FORM_OVERHEAD)
    except TooLarge:
        raise web.HTTPRequestEntityTooLarge(email.max_message_bytes, 0) from None
    raw = fields.get("email")
    if not raw:
        raise InvalidPayload("the email field is missing; turn on 'POST the raw, full MIME message'")
    try:
        envelope = json.loads(_text(fields, "envelope") or "{}")
    except ValueError:
        envelope = {}
    recipients = envelope.get("to") if isinstance(envelope.get("to"), list) else []
    sender = envelope.get("from") if isinstance(envelope.get("from"), str) else None
    outcome = await intake.receive(deps, email, raw, envelope_from=sender, recipients=[str(r) for r in recipients])
    return web.json_response({"outcome": outcome.kind, "conversation_id": outcome.conversation_id})
