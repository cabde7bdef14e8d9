"""MMS media into the attachment store: fetched from Twilio with the account's credentials.

Twilio's media URLs need HTTP basic auth (account SID, auth token) unless the
account disabled it; the bytes are fetched once, when the message arrives, so
agents never need Twilio credentials to open them.
"""

from __future__ import annotations

import asyncio
import logging

from channels.fetch import FetchFailed, basic_auth, fetch, host_of
from channels.sms.settings import TwilioSettings
from conversations.attachments import Attachments, derived_id
from conversations.models import Attachment

log = logging.getLogger("gateway.sms")

TWILIO_API = "https://api.twilio.com"
FETCH_SECONDS = 10.0  # Twilio waits 15 s for the webhook's answer


def media_hosts(settings: TwilioSettings) -> frozenset[str]:
    return frozenset({host_of(TWILIO_API), *([host_of(settings.api_base_url)] if settings.api_base_url else [])})


async def store_media(attachments: Attachments, settings: TwilioSettings, secret_key: bytes, dedupe_key: str,
                      media: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    """Each medium fetched and stored (id derived from the message, so a retried webhook stores nothing twice);
    one that cannot be fetched or is refused by the limits stays listed with the reason."""
    if not media or not settings.account_sid or settings.auth_token is None:
        return media
    headers = {"Authorization": basic_auth(settings.account_sid, settings.auth_token.get_secret_value())}
    limit = attachments.limits["sms"].max_bytes

    async def one(index: int, item: Attachment) -> Attachment:
        try:
            data = await fetch(item.url or "", allowed_hosts=media_hosts(settings), max_bytes=limit,
                               timeout=FETCH_SECONDS, headers=headers)
        except FetchFailed as error:
            log.warning("MMS media %d of %s not stored: %s", index, dedupe_key, error)
            return Attachment(name=item.name, content_type=item.content_type, url=item.url, refused=str(error))
        stored = await attachments.keep("sms", data, item.name, declared_type=item.content_type,
                                        attachment_id=derived_id(secret_key, f"{dedupe_key}:{index}"))
        return Attachment(name=stored.name, content_type=stored.content_type, size=stored.size,
                          url=item.url, id=stored.id, refused=stored.refused)

    # All at once, so a message's media share Twilio's 15 s for the webhook's answer.
    return tuple(await asyncio.gather(*(one(index, item) for index, item in enumerate(media))))
