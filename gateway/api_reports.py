"""Admin API for reports and trend alerts: ``GET /api/reports/summary``, ``/api/reports/timeseries``, ``/api/alerts``.

Behind the admin token like the rest of ``/api``. ``setup(app)`` adds the routes
(before the API's catch-all).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from multidict import MultiMapping

from conversations import codec
from conversations.clock import utcnow
from conversations.errors import InvalidRequest
from gateway import report_params
from gateway.appkeys import SERVICES
from workers import report_store, trends
from workers.report_summary import Filters

routes = web.RouteTableDef()
MAX_ALERTS_PAGE = 500


def _single(query: MultiMapping[str]) -> Mapping[str, str]:
    for key in query:
        if len(query.getall(key)) > 1:
            raise InvalidRequest(f"{key} given more than once")
    return dict(query)


def _period(filters: Filters) -> dict[str, object]:
    return {"from": codec.iso(codec.from_ms(filters.start_ms)), "to": codec.iso(codec.from_ms(filters.end_ms)),
            "queue": filters.queue, "channel": filters.channel, "tier": filters.tier}


@routes.get("/api/reports/summary")
async def summary(request: web.Request) -> web.Response:
    query = report_params.parse(_single(request.query), utcnow())
    services = request.app[SERVICES]
    await report_store.catch_up(services.store, services.rules.current)  # every event before this request counts
    figures = await report_store.summary(services.redis, query.filters, query.group_by)
    return web.json_response({"period": _period(query.filters), **figures})


@routes.get("/api/reports/timeseries")
async def timeseries(request: web.Request) -> web.Response:
    query = report_params.parse(_single(request.query), utcnow(), series=True)
    assert query.metric is not None and query.step_ms is not None  # parse(series=True) always sets both
    services = request.app[SERVICES]
    await report_store.catch_up(services.store, services.rules.current)
    points = await report_store.series(services.redis, query.filters, query.metric, query.step_ms)
    interval = "hour" if query.step_ms == report_params.INTERVALS["hour"] else "day"
    return web.json_response({
        "period": _period(query.filters), "metric": query.metric, "interval": interval,
        "points": [{"start": codec.iso(codec.from_ms(start)), "value": value} for start, value in points],
    })


@routes.get("/api/alerts")
async def alerts(request: web.Request) -> web.Response:
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise InvalidRequest("limit must be a number") from None
    if not 1 <= limit <= MAX_ALERTS_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_ALERTS_PAGE}")
    return web.json_response({"alerts": await trends.list_alerts(request.app[SERVICES].redis, limit)})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
