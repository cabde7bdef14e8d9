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


def describe(settings: Settings) -> str:
    """The start-up log's line: which channels are on, and what each one that is off is missing.

    A channel is on only when all its required settings are non-empty; the
    endpoints of one that is off answer 404.
    """
    email = settings.email
    ways = [f"SMTP listener on {email.smtp_listen_host}:{email.smtp_listen_port}" if email.smtp_listener else "",
            "Mailgun" if email.mailgun else "", "SendGrid" if email.sendgrid else "",
            "sending by SMTP" if email.outbound else "not sending: GATEWAY_EMAIL__SMTP_HOST/__FROM_ADDRESS empty"]
    states = [
        ("webchat", [], ["identity verification" if settings.webchat.identity_secret else "anonymous visitors"]),
        ("sms", [f"GATEWAY_TWILIO__{name}" for name in settings.twilio.missing()], []),
        ("email", [f"GATEWAY_EMAIL__{name}" for name in email.missing()], [w for w in ways if w]),
        ("slack", [f"GATEWAY_SLACK__{name}" for name in settings.slack.missing()], []),
    ]
    enabled = [f"{name} ({', '.join(notes)})" if notes else name for name, missing, notes in states if not missing]
    off = [f"{name} (empty: {', '.join(missing)})" for name, missing, _ in states if missing]
    return f"channels enabled: {', '.join(enabled) or 'none'}; not configured: {', '.join(off) or 'none'}"
