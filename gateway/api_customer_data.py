"""``GET /api/customers/{id}/export``, ``DELETE /api/customers/{id}``, and reading archived conversations.

The work is in ``workers/customer_data.py`` (export, erasure) and ``conversations/archive.py``;
this module maps it to HTTP. An erasure is recorded under the caller (the agent of the
token, else "admin").
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from conversations import codec
from conversations.archive import Archive
from conversations.clock import now_ms
from conversations.errors import NotFound
from gateway.actors import actor, agent_of
from gateway.appkeys import SERVICES, SETTINGS
from gateway.runtime import audit_log
from workers import customer_data
from workers.context import Services

routes = web.RouteTableDef()


def signer(services: Services) -> Callable[[str], str] | None:
    """Signed URLs for stored files (each view signs afresh; a URL opens for ``url_seconds``)."""
    files = services.attachments
    if files is None:
        return None
    now = now_ms() // 1000
    return lambda attachment_id: files.url(attachment_id, now)


async def archived_view(services: Services, conversation_id: str) -> dict[str, object]:
    """An archived conversation in the shape of ``GET /api/conversations/{id}``, with ``archived: true``.

    Raises:
        NotFound: neither live nor archived.
    """
    files = services.attachments
    record = await Archive(services.redis, files.store).read(conversation_id) if files is not None else None
    if record is None:
        raise NotFound(f"no conversation {conversation_id}")
    conversation = record.conversation()
    try:
        customer: dict[str, object] | None = codec.customer_json(await services.store.customer(conversation.customer_id))
    except NotFound:
        customer = None
    return {
        "conversation": codec.conversation_json(conversation),
        "archived": True,
        "customer": customer,
        "messages": [codec.message_json(m, signer(services)) for m in record.messages()],
        "routing": {"queue": conversation.queue or None, "tier": conversation.tier,
                    "priority": conversation.priority.value, "tags": list(conversation.tags),
                    "sla_policy": conversation.sla_policy, "rule": conversation.rule},
        "history": [],
    }


@routes.get("/api/customers/{id}/export")
async def export_customer(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    files = services.attachments.store if services.attachments is not None else None
    document = await customer_data.export(services.store, services.service.consent, files,
                                          audit_log(request.app[SETTINGS], services.redis),
                                          request.match_info["id"], signer(services))
    return web.json_response(document, headers={
        "Content-Disposition": f'attachment; filename="customer-{request.match_info["id"]}.json"'})


@routes.delete("/api/customers/{id}")
async def erase_customer(request: web.Request) -> web.Response:
    if agent_of(request) is not None:
        # It cannot be undone: the operator's token decides, not any one agent's.
        raise web.HTTPForbidden(text="erasing a customer needs the admin token")
    services = request.app[SERVICES]
    files = services.attachments.store if services.attachments is not None else None
    counts = await customer_data.erase(services.store, files, audit_log(request.app[SETTINGS], services.redis),
                                       request.match_info["id"], actor(request))
    return web.json_response({"erased": request.match_info["id"], **counts})
