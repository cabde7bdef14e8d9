"""Twilio's webhooks: ``POST /sms/twilio`` (inbound messages) and ``POST /sms/twilio/status``.

Read, verify, parse, call the domain, answer. A request whose signature does
not verify is refused with 403 before anything is parsed or stored.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web

from channels.base import InvalidSignature
from channels.sms import signature
from channels.sms.inbound import from_twilio
from channels.sms.outbound import OUR_NUMBER, STATUS_PATH, describe_error
from conversations.models import FINAL_FAILURES, DeliveryStatus
from gateway.appkeys import RUNTIME

log = logging.getLogger("gateway.sms")

INBOUND_PATH = "/sms/twilio"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# Twilio's MessageStatus → ours. Statuses before "sent" are all "on its way".
STATUSES = {
    "accepted": DeliveryStatus.SENDING, "scheduled": DeliveryStatus.SENDING, "queued": DeliveryStatus.SENDING,
    "sending": DeliveryStatus.SENDING, "sent": DeliveryStatus.SENT, "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ, "undelivered": DeliveryStatus.UNDELIVERED, "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,
}
async def verified_form(request: web.Request) -> dict[str, str]:
    settings = request.app[RUNTIME].settings
    token = settings.twilio.auth_token
    if token is None:
        raise web.HTTPForbidden(text="cannot verify Twilio requests: GATEWAY_TWILIO__AUTH_TOKEN is not set")
    form = {key: value for key, value in (await request.post()).items() if isinstance(value, str)}
    url = signature.public_url(settings.base_url, request.path_qs)
    try:
        signature.verify(token.get_secret_value(), url, form, request.headers.get(signature.HEADER))
    except InvalidSignature as error:
        log.warning("refused a Twilio request: %s", error)
        raise web.HTTPForbidden(text=str(error)) from None
    return form


async def inbound(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    form = await verified_form(request)
    message = from_twilio(form, received_at=datetime.now(UTC), default_region=runtime.settings.twilio.default_region)
    result = await runtime.service.ingest(message)
    if not result.duplicate and message.meta.get("to"):
        await runtime.store.set_conversation_fields(result.conversation_id, {OUR_NUMBER: message.meta["to"]})
    # Empty TwiML: Twilio sends nothing back by itself; answers come from agents or rules.
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


async def status(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    form = await verified_form(request)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    new = STATUSES.get((form.get("MessageStatus") or form.get("SmsStatus") or "").lower())
    found = await runtime.store.find_by_provider_id("sms", sid) if sid else None
    if new is None or found is None:
        # Not ours (another app on the account) or a status we do not track: nothing to update.
        return web.Response(status=204)
    conversation_id, message_id = found
    # Callbacks arrive out of order; record_delivery refuses a step back.
    error = describe_error(form.get("ErrorCode"), form.get("ErrorMessage")) if new in FINAL_FAILURES else None
    await runtime.service.record_delivery(conversation_id, message_id, new, error=error, provider_id=sid)
    return web.Response(status=204)


def setup_routes(app: web.Application) -> None:
    app.router.add_post(INBOUND_PATH, inbound)
    app.router.add_post(STATUS_PATH, status)
