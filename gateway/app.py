"""The aiohttp application factory. Nothing starts in a constructor: startup lives in ``cleanup_ctx``."""

from __future__ import annotations

import asyncio
import logging
from importlib import resources

from aiohttp import web
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from channels import registry
from channels.webchat.hub import Hub
from gateway import api, failures_api, health
from gateway.appkeys import RUNTIME, SETTINGS, WEBSOCKETS
from gateway.errors import errors_middleware
from gateway.runtime import build_runtime
from gateway.settings import Settings

log = logging.getLogger("gateway")


def create_app(
    settings: Settings,
    *,
    redis: Redis | None = None,
    sync_redis: SyncRedis | None = None,
    rules=None,
) -> web.Application:
    """Build the web app; Redis clients are made from settings unless given (embedded mode, tests)."""
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[errors_middleware, api.admin_auth])
    app[SETTINGS] = settings
    app[WEBSOCKETS] = set()

    async def lifecycle(app: web.Application):
        own_clients = redis is None
        async_client = redis or Redis.from_url(settings.redis_url, decode_responses=True)
        sync_client = sync_redis or SyncRedis.from_url(settings.redis_url)  # RQ needs raw bytes
        runtime = await build_runtime(settings, async_client, sync_client, role="web", rules=rules)
        runtime.hub = Hub(async_client)
        await runtime.hub.start()
        app[RUNTIME] = runtime
        watcher = None
        if hasattr(runtime.rules, "watch"):
            runtime.rules.install_sighup()
            watcher = asyncio.create_task(runtime.rules.watch(settings.rules_reload_seconds), name="rules-watch")
        yield
        if watcher is not None:
            watcher.cancel()
        for ws in list(app[WEBSOCKETS]):
            await ws.close(code=1001, message=b"server shutting down")
        await runtime.hub.close()
        await runtime.close()
        if own_clients:
            await async_client.aclose()
            sync_client.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_routes(health.routes)
    failures_api.setup(app)  # before api.routes, whose catch-all would answer /api/failures
    app.router.add_routes(api.routes)
    registry.setup_web(app)
    app.router.add_get("/", index)
    return app


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(str(resources.files("gateway").joinpath("static/index.html")))
