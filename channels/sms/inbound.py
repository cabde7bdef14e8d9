"""Twilio's inbound SMS/MMS webhook form → ``InboundMessage``; pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from conversations.messages import InboundMessage, InvalidPayload
from conversations.addresses import normalize_phone
from conversations.errors import InvalidRequest
from conversations.models import Attachment, Channel, Identity

MAX_MEDIA = 10  # Twilio sends at most 10 media items per MMS
OUR_NUMBER = "sms:our_number"  # conversation field: the number the customer last texted


def phone(number: str, default_region: str) -> str:
    """E.164, or the InvalidPayload a webhook handler answers 400 to."""
    try:
        return normalize_phone(number, default_region)
    except InvalidRequest as error:
        raise InvalidPayload(str(error)) from None


def from_twilio(form: Mapping[str, str], *, received_at: datetime, default_region: str = "US") -> InboundMessage:
    """Read one inbound message from Twilio's form fields.

    Args:
        form: the POSTed fields (``MessageSid``, ``From``, ``To``, ``Body``, ``NumMedia``,
            ``MediaUrlN``, ``MediaContentTypeN``, ...).
        received_at: when the gateway got it.
        default_region: country for numbers without a country code (short codes, local tests).
    """
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sid:
        raise InvalidPayload("MessageSid is missing")
    sender = (form.get("From") or "").strip()
    if not sender:
        raise InvalidPayload("From is missing")
    to = (form.get("To") or "").strip()
    meta = {"to": phone(to, default_region) if to else ""}
    for field, key in (("MessagingServiceSid", "messaging_service_sid"), ("AccountSid", "account_sid"),
                       ("NumSegments", "segments")):
        if form.get(field):
            meta[key] = form[field]
    return InboundMessage(
        channel=Channel.SMS,
        identity=Identity(Channel.SMS, phone(sender, default_region)),
        provider_id=sid,
        text=form.get("Body") or "",
        received_at=received_at,
        attachments=media(form),
        meta={k: v for k, v in meta.items() if v},
        facts={OUR_NUMBER: meta["to"]} if meta["to"] else {},
    )


def media(form: Mapping[str, str]) -> tuple[Attachment, ...]:
    """MMS media as metadata; the web handler fetches the files into the attachment store (``media.py``)."""
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        raise InvalidPayload("NumMedia is not a number") from None
    found = []
    for index in range(min(max(count, 0), MAX_MEDIA)):
        url = form.get(f"MediaUrl{index}")
        if not url:
            continue
        content_type = form.get(f"MediaContentType{index}") or "application/octet-stream"
        found.append(Attachment(name=url.rstrip("/").rsplit("/", 1)[-1], content_type=content_type, url=url))
    return tuple(found)
