"""Typed keys of the aiohttp application (aiohttp's AppKey: no string collisions, no warnings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from gateway.runtime import Runtime
    from gateway.settings import Settings

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
WEBSOCKETS: web.AppKey[set[Any]] = web.AppKey("websockets")
DEMO: web.AppKey[bool] = web.AppKey("demo")
