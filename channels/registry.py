"""The channels this gateway has: their senders, and their web routes and start-up hooks.

Adding a channel means one line in each list below; ``gateway.app`` and
``gateway.runtime`` read them and know nothing else about channels.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from redis.asyncio import Redis

from channels.base import Sender
from channels.email import outbound as email_outbound
from channels.email import web as email_web
from channels.slack import app as slack_app
from channels.slack.sender import SlackSender
from channels.sms import outbound as sms_outbound
from channels.sms import web as sms_web
from channels.webchat import handler as webchat_handler
from channels.webchat.sender import WebchatSender
from conversations.models import Channel
from gateway.settings import Settings

# Each returns a Sender, or None when the channel is not configured.
SENDER_FACTORIES: list[Callable[[Settings, Redis], Sender | None]] = [
    lambda settings, redis: WebchatSender(redis),
    lambda settings, redis: SlackSender.from_settings(settings.slack),
    sms_outbound.from_settings,
    email_outbound.from_settings,
]

# Each adds the channel's routes (and, if it needs one, a cleanup_ctx for a listener) to the app.
WEB_SETUPS: list[Callable[[web.Application], None]] = [
    webchat_handler.setup_routes,
    slack_app.setup_routes,
    sms_web.setup_routes,
    email_web.setup,
]


def build_senders(settings: Settings, redis: Redis) -> dict[Channel, Sender]:
    senders: dict[Channel, Sender] = {}
    for factory in SENDER_FACTORIES:
        sender = factory(settings, redis)
        if sender is not None:
            senders[sender.channel] = sender
    return senders


def setup_web(app: web.Application) -> None:
    for setup in WEB_SETUPS:
        setup(app)
