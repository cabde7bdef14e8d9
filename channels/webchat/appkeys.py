"""The web chat's app keys, apart so the socket (``web.py``) and the upload (``upload.py``) share them."""

from __future__ import annotations

from aiohttp import web

from channels.webchat.limits import Network
from channels.webchat.settings import WebchatSettings

SETTINGS: web.AppKey[WebchatSettings] = web.AppKey("webchat_settings", WebchatSettings)
# Proxies whose X-Forwarded-For names the client (GATEWAY_TRUSTED_PROXIES).
TRUSTED_PROXIES: web.AppKey[tuple[Network, ...]] = web.AppKey("webchat_trusted_proxies")
