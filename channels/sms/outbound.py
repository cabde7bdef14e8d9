"""Outbound SMS with the official ``twilio`` client.

The client is synchronous (requests); each send runs in a thread so the
worker's event loop stays free. ``GATEWAY_TWILIO__API_BASE_URL`` swaps the
scheme, host and port of every API URL the client builds (it composes
``https://api.twilio.com/2010-04-01/...`` itself and has no base-URL option),
which is how tests point it at a local fake and how a regional endpoint is used.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from redis.asyncio import Redis
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from conversations.messages import OutboundMessage, PermanentSendError, SendResult, TransientSendError
from conversations import keys, redisio
from conversations.clock import utcnow
from conversations.consent import ConsentStore, OptOut
from conversations.models import Channel
from channels.sms.inbound import OUR_NUMBER
from channels.sms.keywords import RESUME
from channels.sms.keys import sent_marker
from channels.sms.settings import TwilioSettings

log = logging.getLogger("gateway.sms")

STATUS_PATH = "/sms/twilio/status"
UNSUBSCRIBED = "21610"  # Twilio refused: the number texted STOP (perhaps before the gateway knew it)
REQUEST_TIMEOUT = 15.0
MAX_MEDIA_URLS = 10  # Twilio's limit per message
SENT_MARKER_TTL = 7 * 24 * 3600  # longer than the outbound job's whole retry schedule
# Twilio error codes worth a human sentence in the agent's view.
ERROR_TEXT = {
    "21211": "invalid 'To' phone number",
    "21408": "sending to this region is not enabled",
    "21610": "the customer replied STOP and has unsubscribed",
    "21614": "the number cannot receive SMS",
    "30001": "queue overflow",
    "30002": "account suspended",
    "30003": "unreachable destination handset",
    "30004": "message blocked",
    "30005": "unknown destination handset",
    "30006": "landline or unreachable carrier",
    "30007": "filtered by the carrier",
    "30008": "unknown error",
}


def describe_error(code: object, message: str | None = None) -> str:
    code_text = str(code) if code not in (None, "") else ""
    reason = message or ERROR_TEXT.get(code_text) or "no reason given"
    return f"Twilio error {code_text}: {reason}" if code_text else reason


# twilio ships no type information, so mypy sees its classes as Any and refuses to subclass them.
class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sends every API call to ``base_url`` instead of the host the client composed."""

    def __init__(self, base_url: str, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.base = urlsplit(base_url)

    def request(self, method: str, url: str, *args: object, **kwargs: object) -> Response:
        parts = urlsplit(url)
        url = urlunsplit((self.base.scheme, self.base.netloc, self.base.path.rstrip("/") + parts.path,
                          parts.query, ""))
        return super().request(method, url, *args, **kwargs)


class TwilioSender:
    channel = Channel.SMS

    def __init__(self, twilio: TwilioSettings, redis: Redis, public_url: str | None) -> None:
        assert twilio.account_sid and twilio.auth_token
        self.redis = redis
        self.consent = ConsentStore(redis)
        self.from_number = twilio.from_number
        self.messaging_service_sid = twilio.messaging_service_sid
        # Twilio can only call back a URL it can reach: only with a configured public URL.
        self.status_callback = public_url.rstrip("/") + STATUS_PATH if public_url else None
        self.http_client = (BaseUrlHttpClient(twilio.api_base_url) if twilio.api_base_url
                            else TwilioHttpClient(timeout=REQUEST_TIMEOUT))
        self.client = Client(twilio.account_sid, twilio.auth_token.get_secret_value(), http_client=self.http_client)

    def create_options(self, message: OutboundMessage) -> dict[str, Any]:
        """The ``messages.create`` arguments: the whole text (Twilio segments long ones), one sender."""
        options: dict[str, Any] = {"to": message.to.address, "body": message.text}
        if message.files:
            # MMS: Twilio fetches each MediaUrl itself, so it gets the file's signed public URL (10 at most).
            options["media_url"] = [file.url for file in message.files[:MAX_MEDIA_URLS]]
        if self.messaging_service_sid:
            # The service's sticky sender answers from the pool number this customer knows.
            options["messaging_service_sid"] = self.messaging_service_sid
        else:
            # Several numbers may point at this gateway: answer from the one the customer texted.
            options["from_"] = message.meta.get(OUR_NUMBER) or self.from_number or ""
        if self.status_callback:
            options["status_callback"] = self.status_callback
        return options

    async def send(self, message: OutboundMessage) -> SendResult:
        already = redisio.optional_text(await self.redis.get(sent_marker(message.message_id)))
        if already:
            return SendResult(provider_id=already)
        options = self.create_options(message)
        try:
            created = await asyncio.to_thread(self.client.messages.create, **options)
        except TwilioRestException as error:
            reason = describe_error(error.code, error.msg)
            if error.status == 429 or error.status >= 500:
                raise TransientSendError(f"HTTP {error.status}: {reason}") from error
            if str(error.code) == UNSUBSCRIBED:
                # Learn it, so later messages to this number fail at once without asking Twilio.
                await self.consent.record(OptOut(message.to, utcnow(), f"Twilio error {UNSUBSCRIBED}", RESUME))
            raise PermanentSendError(reason) from error
        except (requests.RequestException, TwilioException) as error:
            raise TransientSendError(f"cannot reach Twilio: {error}") from error
        await self.redis.set(sent_marker(message.message_id), created.sid, ex=SENT_MARKER_TTL)
        # Status callbacks may arrive before the outbound job records the sid: remember it now.
        await self.redis.set(keys.provider_message(self.channel.value, created.sid),
                             f"{message.conversation_id} {message.message_id}")
        return SendResult(provider_id=created.sid, meta={"segments": str(created.num_segments or "")})

    async def close(self) -> None:
        session = self.http_client.session  # a requests Session, or None without connection pooling
        if session is not None:
            session.close()


def from_settings(twilio: TwilioSettings, redis: Redis, public_url: str | None) -> TwilioSender | None:
    """A sender when the account, token and a sender (number or Messaging Service) are configured.

    ``public_url``: the operator's ``GATEWAY_PUBLIC_URL`` (status callbacks need an address Twilio reaches).
    """
    if not twilio.configured:
        return None
    return TwilioSender(twilio, redis, public_url)
