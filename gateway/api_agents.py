"""``GET /api/agents`` (who can act) and ``GET /api/whoami`` (whom the presented token acts as)."""

from __future__ import annotations

from aiohttp import web

from conversations.audit import VIA
from gateway.actors import ADMIN_AUTHOR, agent_of, registry

routes = web.RouteTableDef()


@routes.get("/api/agents")
async def list_agents(request: web.Request) -> web.Response:
    """Names, where each token is kept and when it was added; never a token or its digest."""
    return web.json_response({"agents": [agent.public() for agent in await registry(request).agents()]})


@routes.get("/api/whoami")
async def whoami(request: web.Request) -> web.Response:
    """The author this token's changes are recorded under: check a token before handing it to a tool."""
    agent = agent_of(request)
    return web.json_response({"agent": agent or ADMIN_AUTHOR, "via": VIA.get(), "is_agent": agent is not None})
