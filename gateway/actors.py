"""Who is calling the admin API: the shared admin token (automation) or one agent's own token.

An agent token makes the agent the author of everything the request changes: a body
``author`` naming anyone else is refused (403), so no agent acts under a colleague's
name. The admin token may still pass ``author`` (an integration acting for a person).
"""

from __future__ import annotations

import hmac

from aiohttp import web
from pydantic import BaseModel

from conversations.agents import AgentRegistry
from conversations.audit import VIA
from gateway.appkeys import SERVICES, SETTINGS

AGENT = "gateway.agent"  # request key: the authenticated agent's name, absent for the admin token
ADMIN_AUTHOR = "admin"  # the author of an admin-token request that names nobody


def registry(request: web.Request) -> AgentRegistry:
    return AgentRegistry(request.app[SERVICES].redis, request.app[SETTINGS].agent_tokens)


async def authenticate(request: web.Request) -> str:
    """Check the bearer token; returns how the caller authenticated ("admin-token" or "agent-token")."""
    settings = request.app[SETTINGS]
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip() if scheme.lower() == "bearer" else ""
    if not given.isascii():
        given = ""  # tokens are ASCII; header bytes that are not UTF-8 could not even be hashed (a 500)
    admin = settings.admin_token
    if given and admin is not None and hmac.compare_digest(given.encode(), admin.get_secret_value().encode()):
        return "admin-token"
    agent = await registry(request).identify(given) if given else None
    if agent is not None:
        request[AGENT] = agent
        return "agent-token"
    if admin is None and not settings.agent_tokens:
        raise web.HTTPUnauthorized(text="missing or wrong bearer token (the admin token is not set: set "
                                        "GATEWAY_ADMIN_TOKEN, or use an agent's token from `gateway agents add`)",
                                   headers={"WWW-Authenticate": "Bearer"})
    raise web.HTTPUnauthorized(text="missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})


def agent_of(request: web.Request) -> str | None:
    """The agent whose token authenticated the request; None for the admin token."""
    value = request.get(AGENT)
    return value if isinstance(value, str) else None


def actor(request: web.Request, body: BaseModel | None = None, field: str = "author") -> str:
    """The author the change is recorded under.

    Agent token: the agent, and a body naming someone else is a 403 that changes nothing.
    Admin token: the body's author, else "admin".
    """
    named = getattr(body, field, None) if body is not None and field in body.model_fields_set else None
    agent = agent_of(request)
    if agent is None:
        return named if isinstance(named, str) and named else ADMIN_AUTHOR
    if named is not None and named != agent:
        raise web.HTTPForbidden(text=f"this token belongs to agent {agent!r}; it cannot act as {named!r}")
    return agent


__all__ = ["AGENT", "VIA", "actor", "agent_of", "authenticate", "registry"]
