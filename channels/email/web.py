"""The email channel's part of the web app: the two webhooks and the SMTP listener's lifetime."""

from __future__ import annotations

from aiohttp import web

from channels.email import pool, smtp, webhooks
from channels.email.settings import EmailSettings

SETTINGS = webhooks.SETTINGS


def setup(app: web.Application, settings: EmailSettings) -> None:
    app[SETTINGS] = settings
    app.router.add_post(webhooks.MAILGUN_PATH, webhooks.mailgun)
    app.router.add_post(webhooks.SENDGRID_PATH, webhooks.sendgrid)
    app.router.add_post(webhooks.SENDGRID_LEGACY_PATH, webhooks.sendgrid_legacy)
    app.cleanup_ctx.append(pool.pool_context(settings))  # before the listener: it outlives it
    app.cleanup_ctx.append(smtp.listener)
