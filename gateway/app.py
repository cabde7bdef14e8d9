"""The aiohttp application factory. Nothing starts in a constructor: startup lives in ``cleanup_ctx``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from importlib import resources

from aiohttp import web
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from channels.deps import CHANNEL_DEPS
from conversations.errors import storage_unavailable
from channels.webchat.hub import Hub
from channels.webchat.web import WEBSOCKETS
from gateway import api, api_backlog, channels, failures_api, health
from gateway.appkeys import SERVICES, SETTINGS
from gateway.errors import errors_middleware
from gateway.redis_clients import RedisClients, close_data, prepare
from gateway.runtime import build_services, channel_deps, load_live_rules
from gateway.settings import Settings
from router import LiveRules

log = logging.getLogger("gateway")


def create_app(
    settings: Settings,
    *,
    redis: Redis | None = None,
    sync_redis: SyncRedis | None = None,
    rules: LiveRules | None = None,
) -> web.Application:
    """Build the web app; Redis clients are made from settings unless given (embedded mode, tests)."""
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[errors_middleware, api.admin_auth])
    app[SETTINGS] = settings

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        own_clients = redis is None
        clients = RedisClients(settings) if own_clients else None
        async_client = redis or clients.data()  # type: ignore[union-attr]  # clients exist when redis is None
        sync_client = sync_redis or clients.queue()  # type: ignore[union-attr]  # RQ needs raw bytes
        # The hub's subscriber: its own connection on a cluster; otherwise the data client's pool.
        hub_client = clients.pubsub() if clients is not None and settings.redis_cluster else async_client
        try:
            await prepare(async_client)
        except Exception as error:
            if not storage_unavailable(error):
                raise
            # Not fatal: /readyz answers 503 and the client connects once the data Redis answers.
            log.warning("the data Redis is not reachable yet (%s); starting not ready", error)
        live_rules = rules or load_live_rules(settings)
        services = build_services(settings, async_client, sync_client, live_rules)
        hub = Hub(hub_client)
        await hub.start()
        app[SERVICES] = services
        app[CHANNEL_DEPS] = channel_deps(settings, services, hub)
        live_rules.install_sighup()
        watcher = asyncio.create_task(live_rules.watch(settings.rules_reload_seconds), name="rules-watch")
        yield
        watcher.cancel()
        sockets = app[WEBSOCKETS]
        for ws in list(sockets):
            await ws.close(code=1001, message=b"server shutting down")
        await hub.close()
        await services.close()
        if own_clients:
            if hub_client is not async_client:
                await hub_client.aclose()
            await close_data(async_client)
            sync_client.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_routes(health.routes)
    failures_api.setup(app)  # before api.routes, whose catch-all would answer /api/failures
    api_backlog.setup(app)  # the same: /api/conversations, /api/customers
    app.router.add_routes(api.routes)
    channels.setup_web(app, settings)
    app.router.add_get("/", index)
    return app


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(str(resources.files("gateway").joinpath("static/index.html")))
