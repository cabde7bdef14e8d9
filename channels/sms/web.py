"""Twilio's webhooks: ``POST /sms/twilio`` (inbound messages) and ``POST /sms/twilio/status``.

Read, verify, parse, call the domain, answer. A request whose signature does
not verify is refused with 403 before anything is parsed or stored.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from aiohttp import web
from twilio.twiml.messaging_response import MessagingResponse

from channels.deps import CHANNEL_DEPS
from channels.sms import keywords, signature
from channels.sms.inbound import from_twilio
from channels.sms.media import store_media
from channels.sms.outbound import STATUS_PATH, describe_error
from channels.sms.settings import TwilioSettings
from conversations.clock import utcnow
from conversations.messages import InvalidSignature
from conversations.models import FINAL_FAILURES, DeliveryStatus

log = logging.getLogger("gateway.sms")

INBOUND_PATH = "/sms/twilio"
MAX_FORM_BYTES = 64 * 1024  # a Twilio webhook is a few kB; GATEWAY_MAX_BODY_BYTES is sized for the admin API
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# Twilio's MessageStatus → ours. Statuses before "sent" are all "on its way".
STATUSES = {
    "accepted": DeliveryStatus.SENDING, "scheduled": DeliveryStatus.SENDING, "queued": DeliveryStatus.SENDING,
    "sending": DeliveryStatus.SENDING, "sent": DeliveryStatus.SENT, "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ, "undelivered": DeliveryStatus.UNDELIVERED, "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
SETTINGS: web.AppKey[TwilioSettings] = web.AppKey("twilio_settings", TwilioSettings)


async def verified_form(request: web.Request) -> dict[str, str]:
    settings = request.app[SETTINGS]
    token = settings.auth_token
    if token is None or not settings.configured:
        # Off until every required setting is filled: a half-configured channel answers like an absent one.
        raise web.HTTPNotFound(text="SMS is not configured on this gateway (empty: "
                               + ", ".join(f"GATEWAY_TWILIO__{name}" for name in settings.missing()) + ")")
    form = await _read_form(request)
    url = signature.public_url(request.app[CHANNEL_DEPS].public_url, request.path_qs)
    try:
        signature.verify(token.get_secret_value(), url, form, request.headers.get(signature.HEADER))
    except InvalidSignature as error:
        log.warning("refused a Twilio request: %s", error)
        raise web.HTTPForbidden(text=str(error)) from None
    return form


async def _read_form(request: web.Request) -> dict[str, str]:
    """The POSTed fields as Twilio sends them: a small urlencoded form, or a clear 4xx (never a 500).

    Twilio posts ``application/x-www-form-urlencoded`` only, a few kB at most (1,600 characters of
    text, ten media URLs, some twenty fields), so anything else is refused before the body is read.
    """
    if request.content_type != "application/x-www-form-urlencoded":
        raise web.HTTPUnsupportedMediaType(text="Twilio posts application/x-www-form-urlencoded")
    if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, request.content_length)
    if len(await request.read()) > MAX_FORM_BYTES:  # a chunked body, bounded by the app's client_max_size
        raise web.HTTPRequestEntityTooLarge(MAX_FORM_BYTES, request.content_length or 0)
    try:
        fields = await request.post()
    except (LookupError, ValueError) as error:  # an unknown charset; bytes that charset cannot decode
        raise web.HTTPBadRequest(text=f"unreadable form body: {type(error).__name__}") from None
    return {key: value for key, value in fields.items() if isinstance(value, str)}


async def inbound(request: web.Request) -> web.Response:
    form = await verified_form(request)
    settings = request.app[SETTINGS]
    message = from_twilio(form, received_at=utcnow(), default_region=settings.default_region)
    service = request.app[CHANNEL_DEPS].service
    found = keywords.keyword(form)
    if found is not None:
        # STOP / START / HELP: kept on the number and the timeline, never routed as a request.
        outcome = await service.keyword(message, found.request, via=found.via, resume=keywords.RESUME,
                                        help_text=settings.help_text)
        if outcome.answer:
            # The answer rides on the webhook's response: Twilio sends it from the number the customer texted.
            answer = MessagingResponse()
            answer.message(outcome.answer)
            return web.Response(text=str(answer), content_type="text/xml")
    else:
        deps = request.app[CHANNEL_DEPS]
        media = await store_media(deps.attachments, settings, deps.secret_key, message.dedupe_key, message.attachments)
        await service.ingest(replace(message, attachments=media))
    # Empty TwiML: Twilio sends nothing back by itself; answers come from agents or rules.
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


async def status(request: web.Request) -> web.Response:
    deps = request.app[CHANNEL_DEPS]
    form = await verified_form(request)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    new = STATUSES.get((form.get("MessageStatus") or form.get("SmsStatus") or "").lower())
    found = await deps.store.find_by_provider_id("sms", sid) if sid else None
    if new is None or found is None:
        # Not ours (another app on the account) or a status we do not track: nothing to update.
        return web.Response(status=204)
    conversation_id, message_id = found
    # Callbacks arrive out of order; record_delivery refuses a step back.
    error = describe_error(form.get("ErrorCode"), form.get("ErrorMessage")) if new in FINAL_FAILURES else None
    await deps.service.record_delivery(conversation_id, message_id, new, error=error, provider_id=sid)
    return web.Response(status=204)


def setup_routes(app: web.Application, settings: TwilioSettings) -> None:
    app[SETTINGS] = settings
    app.router.add_post(INBOUND_PATH, inbound)
    app.router.add_post(STATUS_PATH, status)
