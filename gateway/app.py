"""The aiohttp application factory. Nothing starts in a constructor: startup lives in ``cleanup_ctx``."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from channels.deps import CHANNEL_DEPS
from conversations.errors import storage_unavailable
from channels.webchat.hub import Hub
from gateway import (api, api_agents, api_audit, api_backlog, api_customer_data, api_inbox, api_outbound, api_reports,
                     api_templates, attachments_web, channels, failures_api, health, inbox_live, pages)
from gateway.appkeys import DEMO, SERVICES, SETTINGS
from gateway.errors import errors_middleware
from gateway.redis_clients import RedisClients, close_data, prepare
from gateway.rules_audit import ReloadRecorder
from gateway.runtime import audit_log, build_services, channel_deps, load_live_rules, load_live_templates
from gateway.settings import Settings
from router import LiveRules
from templates import LiveTemplates

log = logging.getLogger("gateway")


def reload_on_sighup(rules: LiveRules, templates: LiveTemplates) -> bool:
    """``kill -HUP``: read the rule file and the template file again now; False where signals are unavailable.

    One handler for both: the event loop keeps one handler per signal.
    """
    def reload() -> None:
        rules.reload("sighup")
        templates.reload("sighup")

    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reload)
    except (NotImplementedError, AttributeError, RuntimeError):
        return False
    return True


def create_app(
    settings: Settings,
    *,
    redis: Redis | None = None,
    sync_redis: SyncRedis | None = None,
    rules: LiveRules | None = None,
    demo: bool = False,
    templates: LiveTemplates | None = None,
) -> web.Application:
    """Build the web app; Redis clients are made from settings unless given (embedded mode, tests).

    ``demo``: also serve the demo page at ``/`` (``gateway demo`` only; production serves no page).
    """
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[errors_middleware, api.admin_auth])
    app[SETTINGS] = settings
    app[DEMO] = demo

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
        live_templates = templates or load_live_templates(settings)
        services = build_services(settings, async_client, sync_client, live_rules, live_templates)
        hub = Hub(hub_client)
        await hub.start()
        app[SERVICES] = services
        app[CHANNEL_DEPS] = channel_deps(settings, services, hub)
        reload_on_sighup(live_rules, live_templates)
        recorder = ReloadRecorder(live_rules, audit_log(settings, async_client))
        watcher = asyncio.create_task(live_rules.watch(settings.rules_reload_seconds), name="rules-watch")
        log.info(channels.describe(settings))
        templates_watcher = asyncio.create_task(live_templates.watch(settings.rules_reload_seconds),
                                                name="templates-watch")
        yield
        # Web chat sockets were closed (1001) on shutdown, before requests in flight were awaited.
        watcher.cancel()
        await recorder.close()
        templates_watcher.cancel()
        await hub.close()
        await services.close()
        if own_clients:
            if hub_client is not async_client:
                await hub_client.aclose()
            await close_data(async_client)
            sync_client.close()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_routes(health.routes)
    app.router.add_routes(attachments_web.routes)
    failures_api.setup(app)  # before api.routes, whose catch-all would answer /api/failures
    app.router.add_routes(api_audit.routes)  # likewise
    app.router.add_routes(api_agents.routes)
    api_reports.setup(app)  # likewise
    api_templates.setup(app)  # likewise: /api/templates
    api_outbound.setup(app)  # likewise: /api/outbound
    app.router.add_routes(api_inbox.routes)  # before api.routes, whose catch-all would answer /api/inbox
    api_backlog.setup(app)  # the same: /api/conversations, /api/customers
    app.router.add_routes(api_customer_data.routes)  # before api.routes, whose catch-all would answer
    app.router.add_routes(api.routes)
    channels.setup_web(app, settings)
    inbox_live.setup(app)  # after the lifecycle above: its feed subscribes on the web chat hub's client
    pages.setup(app, demo=demo)
    return app
