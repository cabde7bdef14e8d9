"""Liveness, readiness and metrics endpoints.

They answer anonymous callers (load balancers, Prometheus), so they tell no
more than needed: ``/readyz`` says whether Redis answered, and the reason
why not goes to the log, not to the caller (a Redis error names hosts,
ports and sometimes configuration). Neither ``/readyz`` nor ``/metrics``
waits on Redis for long, and neither ever calls it synchronously: a slow
Redis must not stall the event loop every other request runs on.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.appkeys import SERVICES
from workers import metrics as sla_metrics
from workers import opsmetrics

log = logging.getLogger("gateway.health")
routes = web.RouteTableDef()
READY_TIMEOUT = 2.0  # seconds /readyz waits for a Redis PING
METRICS_TIMEOUT = 1.0  # seconds /metrics waits for the SLA counts before answering without them


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(request.app[SERVICES].store.ping(), timeout=READY_TIMEOUT)
    except Exception as error:  # any failure to reach Redis means not ready
        log.warning("not ready: Redis did not answer a PING within %ss: %s", READY_TIMEOUT,
                    str(error) or type(error).__name__)
        return web.json_response({"status": "unavailable", "redis": "unavailable"}, status=503)
    return web.json_response({"status": "ready", "redis": "ok"})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    body = generate_latest()  # this process's own metrics: nothing here touches Redis
    services = request.app[SERVICES]
    state = None
    try:  # the SLA counts and the alerting gauges (docs/OPERATIONS.md), side by side, within the one timeout
        raw, state = await asyncio.wait_for(asyncio.gather(
            sla_metrics.read(services.redis), opsmetrics.read(services.redis, services.settings.outbound_stuck_seconds),
        ), timeout=METRICS_TIMEOUT)
    except Exception as error:  # a scrape must not fail, or hang, because Redis blinked
        log.warning("SLA metrics left out of this scrape: Redis did not answer within %ss: %s", METRICS_TIMEOUT,
                    str(error) or type(error).__name__)
    else:
        body += sla_metrics.exposition(raw)
    body += opsmetrics.exposition(state)  # an unreadable Redis is itself a figure: gateway_redis_up 0
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
