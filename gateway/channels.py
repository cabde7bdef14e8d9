"""The channels this gateway has: their senders, and their web routes and start-up hooks.

Adding a channel means one entry in each list below; ``gateway.app`` and
``gateway.runtime`` read them and know nothing else about channels. Each
channel gets its own settings group, never the whole ``Settings``.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from redis.asyncio import Redis

from channels.base import Sender
from channels.email import outbound as email_outbound
from channels.email import web as email_web
from channels.slack import web as slack_web
from channels.slack.outbound import SlackSender
from channels.sms import outbound as sms_outbound
from channels.sms import web as sms_web
from channels.webchat import web as webchat_web
from channels.webchat.outbound import WebchatSender
from conversations.models import Channel
from gateway.settings import Settings

# Each returns a Sender, or None when the channel is not configured: (settings, redis, secret key).
SENDER_FACTORIES: list[Callable[[Settings, Redis, bytes], Sender | None]] = [
    lambda settings, redis, secret: WebchatSender(redis),
    lambda settings, redis, secret: SlackSender.from_settings(settings.slack),
    lambda settings, redis, secret: sms_outbound.from_settings(settings.twilio, redis, settings.public_url),
    lambda settings, redis, secret: email_outbound.from_settings(settings.email, redis, secret),
]

# Each adds the channel's routes (and, if it needs one, a cleanup_ctx for a listener) to the app.
WEB_SETUPS: list[Callable[[web.Application, Settings], None]] = [
    lambda app, settings: webchat_web.setup_routes(app, settings.webchat, trusted_proxies=settings.trusted_proxies),
    lambda app, settings: slack_web.setup_routes(app, settings.slack),
    lambda app, settings: sms_web.setup_routes(app, settings.twilio),
    lambda app, settings: email_web.setup(app, settings.email),
]


def build_senders(settings: Settings, redis: Redis, secret_key: bytes) -> dict[Channel, Sender]:
    senders: dict[Channel, Sender] = {}
    for factory in SENDER_FACTORIES:
        sender = factory(settings, redis, secret_key)
        if sender is not None:
            senders[sender.channel] = sender
    return senders


def setup_web(app: web.Application, settings: Settings) -> None:
    for setup in WEB_SETUPS:
        setup(app, settings)
