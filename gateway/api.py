"""The admin REST API under /api: read conversations, act on them as an agent, manage customers."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ConfigDict, Field, model_validator

from channels.email.original import original_view
from conversations import codec
from conversations.addresses import normalize
from conversations.errors import NotFound
from conversations.models import Channel, Customer
from gateway.actors import VIA, actor, authenticate
from gateway.api_customer_data import archived_view, signer as file_link
from gateway.api_templates import TemplateName, Variables, render_for
from gateway.appkeys import SERVICES, SETTINGS
from gateway import uploads
from gateway.bodies import read_body
from workers.context import Services

routes = web.RouteTableDef()


# Every string has a bound: they are stored, shown in Slack and copied into events.
Author = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(max_length=2000)]
AttributeName = Annotated[str, Field(min_length=1, max_length=100)]
AttributeValue = Annotated[str, Field(max_length=2000)]
MAX_ATTRIBUTES = 100


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageBody(Body):
    text: str | None = Field(None, min_length=1, max_length=32_000)
    # Or a response template (docs/TEMPLATES.md), rendered for the channel the message goes out on.
    template: TemplateName | None = None
    variables: Variables | None = None
    author: Author = "admin"
    kind: Literal["reply", "note"] = "reply"
    channel: Channel | None = None

    @model_validator(mode="after")
    def _text_or_template(self) -> MessageBody:
        if (self.text is None) == (self.template is None):
            raise ValueError("give either text or template (with its variables)")
        if self.variables is not None and self.template is None:
            raise ValueError("variables go with a template")
        return self


class TransferBody(Body):
    queue: str = Field(min_length=1, max_length=200)
    author: Author = "admin"
    reason: Reason | None = None


class EscalateBody(Body):
    reason: Reason | None = None
    author: Author = "admin"


class AssignBody(Body):
    agent: str | None = Field(None, max_length=200)
    author: Author = "admin"


class ActorBody(Body):
    author: Author = "admin"


class CustomerBody(Body):
    name: str | None = Field(None, max_length=200)
    attributes: dict[AttributeName, AttributeValue] | None = Field(None, max_length=MAX_ATTRIBUTES)
    author: Author = "admin"


class IdentityBody(Body):
    channel: Channel
    address: str = Field(min_length=1, max_length=320)
    author: Author = "admin"


@web.middleware
async def admin_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer token on everything under /api: the admin token or an agent's (gateway/actors.py)."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    # The audit log says how the caller proved who it is; reset after, as a keep-alive
    # connection's next request runs in the same task.
    via = VIA.set(await authenticate(request))
    try:
        return await handler(request)
    finally:
        VIA.reset(via)


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


async def customer_view(services: Services, customer: Customer) -> dict[str, object]:
    """The customer, with the addresses that opted out (nothing is sent to them)."""
    opt_outs = await services.service.consent.opt_outs(customer.identities)
    return {**codec.customer_json(customer), "opt_outs": [opt_out.public() for opt_out in opt_outs]}


async def conversation_view(services: Services, conversation_id: str) -> dict[str, object]:
    store = services.store
    try:
        conversation = await store.conversation(conversation_id)
    except NotFound:  # moved out of Redis by retention: read from the archive (docs/DATA.md)
        return await archived_view(services, conversation_id)
    customer = await store.customer(conversation.customer_id)
    history = [c for c in await store.conversations(await store.customer_conversation_ids(customer.id))
               if c.id != conversation.id]
    return {
        "conversation": codec.conversation_json(conversation),
        "customer": await customer_view(services, customer),
        "messages": [codec.message_json(m, file_link(services)) for m in await store.messages(conversation_id)],
        "routing": {"queue": conversation.queue or None, "tier": conversation.tier,
                    "priority": conversation.priority.value, "tags": list(conversation.tags),
                    "sla_policy": conversation.sla_policy, "rule": conversation.rule},
        "history": [codec.conversation_json(c) for c in history],
    }


@routes.get("/api/conversations/{id}")
async def get_conversation(request: web.Request) -> web.Response:
    return web.json_response(await conversation_view(_services(request), request.match_info["id"]))


@routes.get("/api/conversations/{id}/messages/{message}/original")
async def message_original(request: web.Request) -> web.Response:
    """The message as it arrived: quoted history, signature, forwards, and a mail's headers and parts."""
    message = await _services(request).store.message(request.match_info["id"], request.match_info["message"])
    return web.json_response(original_view(message))


@routes.post("/api/conversations/{id}/messages")
async def post_message(request: web.Request) -> web.Response:
    """A reply or note; as ``multipart/form-data`` (fields ``text``, ``author``, ``channel``, files in ``file``)
    a reply carries files, and then its text may be empty."""
    services = _services(request)
    service, conversation_id = services.service, request.match_info["id"]
    if request.content_type.startswith("multipart/"):
        message = await uploads.post_reply_with_files(request, services, conversation_id)
        return web.json_response({"message": codec.message_json(message, file_link(services))}, status=201)
    body = await read_body(request, MessageBody)
    text = body.text
    if body.template is not None:
        text = (await render_for(services, conversation_id, body.template, body.variables or {},
                                 actor(request, body), body.channel, note=body.kind == "note")).text
    assert text is not None  # the body has text or a template
    if body.kind == "note":
        message = await service.note(conversation_id, text, actor(request, body))
    else:
        message = await service.reply(conversation_id, text, actor(request, body), channel=body.channel)
    return web.json_response({"message": codec.message_json(message, file_link(services))}, status=201)


@routes.post("/api/conversations/{id}/transfer")
async def transfer(request: web.Request) -> web.Response:
    body = await read_body(request, TransferBody)
    conversation = await _services(request).service.transfer(request.match_info["id"], body.queue, actor(request, body),
                                                            body.reason)
    return web.json_response({"conversation": codec.conversation_json(conversation)})


@routes.post("/api/conversations/{id}/escalate")
async def escalate(request: web.Request) -> web.Response:
    body = await read_body(request, EscalateBody)
    conversation = await _services(request).service.escalate(request.match_info["id"], actor(request, body),
                                                             body.reason)
    return web.json_response({"conversation": codec.conversation_json(conversation)})


@routes.post("/api/conversations/{id}/assign")
async def assign(request: web.Request) -> web.Response:
    body = await read_body(request, AssignBody)
    conversation = await _services(request).service.assign(request.match_info["id"], body.agent,
                                                           actor(request, body))
    return web.json_response({"conversation": codec.conversation_json(conversation)})


@routes.post("/api/conversations/{id}/resolve")
async def resolve(request: web.Request) -> web.Response:
    body = await read_body(request, ActorBody)
    conversation = await _services(request).service.resolve(request.match_info["id"], actor(request, body))
    return web.json_response({"conversation": codec.conversation_json(conversation)})


@routes.post("/api/conversations/{id}/reopen")
async def reopen(request: web.Request) -> web.Response:
    body = await read_body(request, ActorBody)
    conversation = await _services(request).service.reopen(request.match_info["id"], actor(request, body))
    return web.json_response({"conversation": codec.conversation_json(conversation)})


@routes.post("/api/conversations/{id}/reroute")
async def reroute(request: web.Request) -> web.Response:
    body = await read_body(request, ActorBody)
    services = _services(request)
    await services.service.route(request.match_info["id"], force=True, author=actor(request, body))
    return web.json_response(await conversation_view(services, request.match_info["id"]))


@routes.get("/api/customers/{id}")
async def get_customer(request: web.Request) -> web.Response:
    services = _services(request)
    store = services.store
    customer = await store.current_customer(request.match_info["id"])
    conversations = await store.conversations(await store.customer_conversation_ids(customer.id))
    return web.json_response({"customer": await customer_view(services, customer),
                              "conversations": [codec.conversation_json(c) for c in conversations]})


@routes.patch("/api/customers/{id}")
async def update_customer(request: web.Request) -> web.Response:
    body = await read_body(request, CustomerBody)
    customer = await _services(request).service.update_customer(
        request.match_info["id"], name=body.name, attributes=body.attributes, author=actor(request, body))
    return web.json_response({"customer": codec.customer_json(customer)})


@routes.post("/api/customers/{id}/identities")
async def link_identity(request: web.Request) -> web.Response:
    body = await read_body(request, IdentityBody)
    services = _services(request)
    identity = normalize(body.channel, body.address, default_region=request.app[SETTINGS].twilio.default_region)
    customer = await services.service.link_identity(request.match_info["id"], identity, author=actor(request, body))
    return web.json_response({"customer": codec.customer_json(customer)})


@routes.get("/api/rules")
async def rules_status(request: web.Request) -> web.Response:
    return web.json_response(_services(request).rules.status())


@routes.route("*", "/api/{tail:.*}")
async def unknown(request: web.Request) -> web.Response:
    raise NotFound(f"no API endpoint {request.method} {request.path}")
