"""``GET /api/audit`` (who changed what, when) and ``POST /api/rules/reload`` (recorded under the caller)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from conversations.audit import MAX_PAGE, AuditQuery, instant_ms
from conversations.errors import InvalidRequest
from gateway.actors import actor
from gateway.appkeys import SERVICES, SETTINGS
from gateway.bodies import read_body
from gateway.rules_audit import reload_now
from gateway.runtime import audit_log

routes = web.RouteTableDef()
AUDIT_PARAMETERS = frozenset({"agent", "conversation", "customer", "from", "to", "cursor", "limit"})


def audit_query(query: dict[str, str]) -> AuditQuery:
    unknown = sorted(set(query) - AUDIT_PARAMETERS)
    if unknown:
        raise InvalidRequest(f"unknown parameter {unknown[0]!r}; known: {', '.join(sorted(AUDIT_PARAMETERS))}")
    try:
        limit = int(query.get("limit", 50))
    except ValueError:
        raise InvalidRequest("limit must be an integer") from None
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be 1 to {MAX_PAGE}")
    start, end = instant_ms(query.get("from"), "from"), instant_ms(query.get("to"), "to")
    if start is not None and end is not None and start > end:
        raise InvalidRequest("from must not be after to")
    return AuditQuery(agent=query.get("agent") or None, conversation=query.get("conversation") or None,
                      customer=query.get("customer") or None, start_ms=start, end_ms=end,
                      cursor=query.get("cursor") or None, limit=limit)


@routes.get("/api/audit")
async def audit(request: web.Request) -> web.Response:
    query = audit_query(dict(request.query))
    log = audit_log(request.app[SETTINGS], request.app[SERVICES].redis)
    return web.json_response((await log.query(query)).public())


class ReloadBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    author: str = Field("admin", min_length=1, max_length=200)


@routes.post("/api/rules/reload")
async def reload_rules(request: web.Request) -> web.Response:
    """Read the rule file now (instead of waiting for the poll); 422 with the errors if it is refused."""
    body = await read_body(request, ReloadBody)
    services = request.app[SERVICES]
    change = await reload_now(services.rules, audit_log(request.app[SETTINGS], services.redis), actor(request, body))
    status = 422 if change.outcome == "refused" else 200
    return web.json_response({"outcome": change.outcome, "rules": services.rules.status()}, status=status)
