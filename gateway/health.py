"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.appkeys import SERVICES

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    try:
        await asyncio.wait_for(request.app[SERVICES].store.ping(), timeout=2)
    except Exception as error:  # any failure to reach Redis means not ready
        return web.json_response({"status": "unavailable", "redis": str(error) or type(error).__name__}, status=503)
    return web.json_response({"status": "ready", "redis": "ok"})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
