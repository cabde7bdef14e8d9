"""Outbound Slack: an agent's reply to a customer who wrote through Slack.

The reply goes where the customer last wrote: their DM with the app (in its
thread, if they used one) or the thread of their message in a shared
(Slack Connect) channel. Without that fact, the DM is opened by user id.
"""

from __future__ import annotations

from conversations.messages import OutboundMessage, PermanentSendError, SendResult, TransientSendError
from channels.slack.blocks import escape
from channels.slack.api import RateLimited, SlackApi, SlackError, configured, make_client
from conversations.models import Channel
from channels.slack.settings import SlackSettings


class SlackSender:
    channel = Channel.SLACK

    def __init__(self, settings: SlackSettings) -> None:
        self.api = SlackApi(make_client(settings))

    @classmethod
    def from_settings(cls, settings: SlackSettings) -> SlackSender | None:
        return cls(settings) if configured(settings) else None

    async def send(self, message: OutboundMessage) -> SendResult:
        channel = message.meta.get("slack_customer_channel", "")
        thread = message.meta.get("slack_customer_thread") or None
        _, _, user = message.to.address.partition(":")
        try:
            if not channel:
                channel = await self.api.open_dm(user)
            posted = await self.api.post(channel, _text(message), thread_ts=thread)
        except RateLimited as error:
            raise TransientSendError(str(error), retry_after=error.retry_after) from error
        except SlackError as error:
            if error.permanent:
                raise PermanentSendError(f"Slack refused the message: {error.error}") from error
            raise TransientSendError(str(error)) from error
        return SendResult(provider_id=f"{posted.channel}:{posted.ts}")

    async def close(self) -> None:
        """slack_sdk's async client opens a session per call: nothing held open."""


def _text(message: OutboundMessage) -> str:
    # Slack shows the app as the sender; name the agent so the customer knows who answers.
    text = escape(message.text)
    # Files as links: their signed URLs open without any credentials.
    text += "".join(f"\n:paperclip: <{escape(f.url).replace('|', '%7C')}|{escape(f.name)}>" for f in message.files)
    return text if message.automatic else f"*{escape(message.author)}*: {text}"
