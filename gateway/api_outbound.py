"""Admin API for proactive messages: ``POST /api/outbound``, ``POST /api/outbound/batch``, ``GET …/batch/{id}``.

``setup(app)`` adds the routes (before the API's catch-all). Addresses are
normalized here (the Twilio group's default region), so the workers get
identity keys; everything a body can get wrong is refused before anything is
stored or sent (docs/OUTBOUND.md).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from conversations.addresses import normalize
from conversations.errors import Conflict, InvalidRequest, NotFound
from conversations.models import Channel
from gateway.api_templates import TemplateName, Variables
from gateway.appkeys import SERVICES, SETTINGS
from gateway.bodies import read_body
from workers import keys as worker_keys, proactive
from workers.context import Services
from workers.proactive import Recipient, Spec

routes = web.RouteTableDef()
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_TTL = 24 * 3600  # a client retrying a timed-out request within a day gets the first answer
PENDING = "pending"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentityRef(Body):
    channel: Channel
    address: str = Field(min_length=1, max_length=320)


class Who(Body):
    customer_id: str | None = Field(None, min_length=1, max_length=100)
    identity: IdentityRef | None = None

    @model_validator(mode="after")
    def _one_recipient(self) -> Who:
        if (self.customer_id is None) == (self.identity is None):
            raise ValueError("give either customer_id or identity {channel, address}")
        return self


class RecipientBody(Who):
    variables: Variables = Field(default_factory=dict)  # this recipient's own, over the batch's


class What(Body):
    channel: Channel | None = None  # default: the customer's preferred, else last, channel
    text: str | None = Field(None, min_length=1, max_length=32_000)
    template: TemplateName | None = None
    variables: Variables | None = None
    queue: str = Field("service", min_length=1, max_length=200)
    author: str = Field("admin", min_length=1, max_length=200)
    subject: str | None = Field(None, min_length=1, max_length=500)  # an email's subject

    @model_validator(mode="after")
    def _text_or_template(self) -> What:
        if (self.text is None) == (self.template is None):
            raise ValueError("give either text or template (with its variables)")
        if self.variables is not None and self.template is None:
            raise ValueError("variables go with a template")
        return self

    def spec(self) -> Spec:
        return Spec(text=self.text, template=self.template, variables=self.variables or {},
                    channel=self.channel.value if self.channel else None, queue=self.queue, author=self.author,
                    subject=self.subject)


class OutboundBody(What, Who):
    pass


class BatchBody(What):
    recipients: list[RecipientBody] = Field(min_length=1)


def _recipient(request: web.Request, who: Who, variables: dict[str, str] | None = None) -> Recipient:
    if who.identity is not None:
        region = request.app[SETTINGS].twilio.default_region
        identity = normalize(who.identity.channel, who.identity.address, default_region=region)
        return Recipient(identity=identity.key, variables=variables or {})
    return Recipient(customer_id=who.customer_id, variables=variables or {})


def _check_spec(services: Services, spec: Spec) -> None:
    proactive.check_queue(services, spec.queue)
    if spec.template is not None:
        services.templates.current.get(spec.template)  # NotFound now, not per recipient later
    if spec.channel is not None:
        proactive.check_sender(services, Channel(spec.channel))


async def once(request: web.Request, act: Callable[[], Awaitable[tuple[dict[str, object], int]]]) -> web.Response:
    """Run ``act`` once per ``Idempotency-Key`` (optional): a retried request gets the first answer.

    The key is claimed before anything is sent; a request that was refused frees it again, so the
    corrected request can use the same key.
    """
    given = request.headers.get(IDEMPOTENCY_HEADER)
    if given is None:
        body, status = await act()
        return web.json_response(body, status=status)
    if not 1 <= len(given) <= 200:
        raise InvalidRequest(f"{IDEMPOTENCY_HEADER} must be 1 to 200 characters")
    redis = request.app[SERVICES].redis
    # surrogatepass: header bytes that are not UTF-8 arrive as surrogates; any value is a key (docs/OUTBOUND.md).
    digest = hashlib.sha256(f"{request.path}\n{given}".encode("utf-8", "surrogatepass")).hexdigest()
    key = worker_keys.proactive_idempotency(digest)
    if not await redis.set(key, PENDING, nx=True, ex=IDEMPOTENCY_TTL):
        stored = await redis.get(key)
        if stored is None or stored == PENDING:
            raise Conflict(f"a request with this {IDEMPOTENCY_HEADER} is still being handled; ask again shortly")
        first = json.loads(stored)
        return web.json_response(first["body"], status=first["status"], headers={"Idempotent-Replayed": "true"})
    try:
        body, status = await act()
    except BaseException:
        await redis.delete(key)
        raise
    await redis.set(key, json.dumps({"body": body, "status": status}), ex=IDEMPOTENCY_TTL)
    return web.json_response(body, status=status)


@routes.post("/api/outbound")
async def send_one(request: web.Request) -> web.Response:
    """Write to a customer first: 201 {conversation_id, message_id}; 409 if the address opted out."""
    body = await read_body(request, OutboundBody)
    services: Services = request.app[SERVICES]
    spec = body.spec()
    _check_spec(services, spec)
    recipient = _recipient(request, body)

    async def act() -> tuple[dict[str, object], int]:
        sent = await proactive.send(services, recipient, spec)
        return {"conversation_id": sent.conversation_id, "message_id": sent.message.id,
                "customer_id": sent.customer_id, "channel": sent.message.channel,
                "opened": sent.opened, "delivery": sent.message.delivery}, 201

    return await once(request, act)


@routes.post("/api/outbound/batch")
async def send_batch(request: web.Request) -> web.Response:
    """Accept up to ``GATEWAY_PROACTIVE__MAX_BATCH`` recipients: 202 {job_id}; poll ``GET …/batch/{job_id}``."""
    body = await read_body(request, BatchBody)
    services: Services = request.app[SERVICES]
    limit = services.proactive.max_batch
    if len(body.recipients) > limit:
        raise InvalidRequest(f"{len(body.recipients)} recipients; a batch takes at most {limit}")
    spec = body.spec()
    _check_spec(services, spec)
    recipients = [_recipient(request, r, r.variables) for r in body.recipients]

    async def act() -> tuple[dict[str, object], int]:
        batch_id = f"ob_{secrets.token_hex(8)}"
        await proactive.create_batch(services, batch_id, spec, recipients)
        return {"job_id": batch_id, "recipients": len(recipients),
                "status_url": f"/api/outbound/batch/{batch_id}"}, 202

    return await once(request, act)


@routes.get("/api/outbound/batch/{id}")
async def batch_status(request: web.Request) -> web.Response:
    status = await proactive.batch_status(request.app[SERVICES], request.match_info["id"][:100])
    if status is None:
        raise NotFound(f"no batch {request.match_info['id'][:100]!r} (results are kept for "
                       f"{request.app[SETTINGS].proactive.keep_results_seconds // 86400} days)")
    return web.json_response(status)


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)


__all__ = ["setup"]
