"""Admin API for dead letters: ``GET /api/failures``, ``POST /api/failures/{id}/retry``.

``setup(app)`` adds the routes (before the API's catch-all).
"""

from __future__ import annotations

from aiohttp import web

from conversations.audit import AuditEntry
from conversations.errors import InvalidRequest
from gateway.actors import actor
from gateway.appkeys import SERVICES, SETTINGS
from gateway.runtime import audit_log
from workers import failures

routes = web.RouteTableDef()
MAX_PAGE = 500


@routes.get("/api/failures")
async def list_failures(request: web.Request) -> web.Response:
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise InvalidRequest("limit must be a number") from None
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
    found = await failures.list_failures(request.app[SERVICES], limit)
    return web.json_response({"failures": found})


@routes.post("/api/failures/{id}/retry")
async def retry_failure(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    result = await failures.retry(services, request.match_info["id"])
    conversation = result.get("conversation_id")
    conversation = conversation if isinstance(conversation, str) else ""
    customer = await services.store.locate(conversation) if conversation else ""
    await audit_log(request.app[SETTINGS], services.redis).record(AuditEntry(
        agent=actor(request), action="retry_failure", conversation=conversation, customer=customer,
        detail={"failure": request.match_info["id"]}))
    return web.json_response(result)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
