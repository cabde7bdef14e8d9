"""Typed keys of the aiohttp application (aiohttp's AppKey: no string collisions, no warnings).

The channels keep their own keys (``channels.deps.CHANNEL_DEPS`` and each
channel's settings group); these are the gateway's.
"""

from __future__ import annotations

from aiohttp import web

from gateway.settings import Settings
from workers.context import Services

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
DEMO: web.AppKey[bool] = web.AppKey("demo", bool)
