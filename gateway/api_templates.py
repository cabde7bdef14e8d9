"""Admin API for response templates: ``GET /api/templates`` and rendering one for a conversation.

``setup(app)`` adds the routes (before the API's catch-all). ``render_for`` is
what ``POST /api/conversations/{id}/messages`` with a ``template`` uses.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from conversations.models import Channel
from gateway.appkeys import SERVICES
from gateway.bodies import read_body
from templates import Rendered
from workers.context import Services

routes = web.RouteTableDef()

TemplateName = Annotated[str, Field(min_length=1, max_length=64)]
# Variable names and values are bounded: values go into messages, names are checked against the template.
Variables = Annotated[dict[Annotated[str, Field(min_length=1, max_length=64)],
                           Annotated[str, Field(max_length=1000)]], Field(max_length=50)]


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_id: str = Field(min_length=1, max_length=100)
    variables: Variables = Field(default_factory=dict)
    channel: Channel | None = None
    # A note is rendered with the `default` text, as POST .../messages does: the inbox previews both kinds.
    kind: Literal["reply", "note"] = "reply"
    author: str = Field("admin", min_length=1, max_length=200)


async def render_for(services: Services, conversation_id: str, template: str, variables: dict[str, str],
                     author: str, channel: Channel | None, *, note: bool = False) -> Rendered:
    """Template ``template`` for a message in the conversation: the channel's text, its customer's values.

    The channel is the one the message goes out on (the customer's last, unless named);
    a note goes nowhere and gets the ``default`` text.
    """
    store = services.store
    conversation = await store.conversation(conversation_id)
    customer = await store.current_customer(conversation.customer_id)
    target = None if note else channel or conversation.last_inbound_channel
    return services.templates.render(template, target, customer=customer, conversation_id=conversation.id,
                                     agent=author, variables=variables)


@routes.get("/api/templates")
async def templates_status(request: web.Request) -> web.Response:
    """The templates in force, and the last refused edit of the file (with line and column), if any."""
    return web.json_response(request.app[SERVICES].templates.status())


@routes.post("/api/templates/{name}/preview")
async def preview(request: web.Request) -> web.Response:
    """What the template would say in a conversation; sends and stores nothing."""
    body = await read_body(request, PreviewBody)
    rendered = await render_for(request.app[SERVICES], body.conversation_id, request.match_info["name"],
                                body.variables, body.author, body.channel, note=body.kind == "note")
    return web.json_response({"text": rendered.text, "variant": rendered.variant, "subject": rendered.subject})


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
