"""A Sender for the fake provider: the SMS channel's place, over real HTTP."""

from __future__ import annotations

import aiohttp

from conversations.messages import OutboundMessage, PermanentSendError, SendResult, TransientSendError
from conversations.models import Channel


class FakeProviderSender:
    channel = Channel.SMS

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def send(self, message: OutboundMessage) -> SendResult:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        payload = {"message_id": message.message_id, "conversation_id": message.conversation_id,
                   "text": message.text, "to": message.to.key}
        try:
            async with self._session.post(f"{self.url}/messages", json=payload,
                                          headers={"Idempotency-Key": message.message_id}) as response:
                data = await response.json(content_type=None)
                if response.status in (429,) or response.status >= 500:
                    retry_after = response.headers.get("Retry-After")
                    raise TransientSendError(f"HTTP {response.status}", float(retry_after) if retry_after else None)
                if response.status >= 400:
                    raise PermanentSendError(f"HTTP {response.status}: {data.get('error')}")
                return SendResult(provider_id=data["id"])
        except aiohttp.ClientError as error:
            raise TransientSendError(f"provider unreachable: {error}") from error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
