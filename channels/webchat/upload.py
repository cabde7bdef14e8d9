"""``POST /webchat/upload``: a visitor attaches a file (an image or a PDF) over HTTP, never through the socket.

Multipart fields: ``visitor_token`` (the one the socket's welcome handed out),
``client_id`` (unique per message, the dedupe key, as on the socket), an
optional ``text`` caption, ``identifier``/``identifier_hash`` when the page
verifies the visitor (the same proof as the socket's hello), and one ``file``.
The file is checked against ``GATEWAY_ATTACHMENTS__WEBCHAT__*`` (size, sniffed
type) before anything is stored; a bad token, a bad file or a bad field is
answered 4xx with the reason and stores nothing. The message then reaches the
visitor's sockets like a typed one.

The token travels in the form, not a header, and no cookie is used: the
cross-origin POST of the widget stays a "simple" request (no preflight) and
``Access-Control-Allow-Origin: *`` lets the widget read the answer without
letting any page act as the visitor.
"""

from __future__ import annotations

import logging
import re

from aiohttp import web

from channels.deps import CHANNEL_DEPS
from channels.uploads import read_upload
from channels.webchat import keys
from channels.webchat.appkeys import SETTINGS, TRUSTED_PROXIES
from channels.webchat.identity import only_anonymous, resolve_visitor
from channels.webchat.inbound import FrameError, Hello
from channels.webchat.limits import Network, NewConversationCap, client_address
from channels.webchat.settings import WebchatSettings
from conversations.attachments import AttachmentRejected, derived_id
from conversations.clock import now_ms, utcnow
from conversations.errors import DomainError
from conversations.messages import InboundMessage
from conversations.models import Channel

log = logging.getLogger("gateway.webchat")

PATH = "/webchat/upload"
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
CORS = {"Access-Control-Allow-Origin": "*"}
FIELDS = frozenset({"visitor_token", "client_id", "text", "identifier", "identifier_hash", "name"})
TOKEN_STATUS = {"invalid_token": 401, "token_expired": 401, "identity_unverified": 403, "too_many_conversations": 429}


def _error(status: int, code: str, detail: str) -> web.Response:
    return web.json_response({"error": detail, "code": code}, status=status, headers=CORS)


async def upload(request: web.Request) -> web.Response:
    try:
        return await _upload(request)
    except AttachmentRejected as error:
        return _error(error.status, "file_refused", str(error))
    except FrameError as error:
        return _error(TOKEN_STATUS.get(error.code, 400), error.code, error.detail)
    except DomainError as error:
        return _error(error.status, "refused", str(error))


async def _upload(request: web.Request) -> web.Response:
    deps = request.app[CHANNEL_DEPS]
    settings: WebchatSettings = request.app[SETTINGS]
    form = await read_upload(request, deps.attachments, "webchat", file_fields=("file",))
    unknown = sorted(set(form.fields) - FIELDS)
    if unknown:
        raise FrameError("bad_request", f"unknown field {unknown[0]!r}")
    token = form.fields.get("visitor_token", "")
    if not token:
        raise FrameError("invalid_token", "visitor_token is required: open the chat first")
    client_id = form.fields.get("client_id", "")
    if not CLIENT_ID.match(client_id):
        raise FrameError("bad_request", "client_id is required: 1-100 letters, digits, '_', '.', ':' or '-'")
    if len(form.files) != 1:
        raise FrameError("bad_request", "send exactly one file, in the field 'file'")
    text = form.fields.get("text", "")
    if len(text) > settings.max_message_chars:
        raise FrameError("bad_request", f"the text is longer than {settings.max_message_chars} characters")
    identity_secret = settings.identity_secret
    hello = Hello(visitor_token=token, identifier=form.fields.get("identifier") or None,
                  identifier_hash=form.fields.get("identifier_hash") or None, name=form.fields.get("name") or None,
                  email=None)
    visitor, _ = resolve_visitor(hello, secret=deps.secret_key,
                                 identity_secret=identity_secret.get_secret_value().encode() if identity_secret else None,
                                 token_ttl_seconds=settings.token_ttl.total_seconds())
    if not visitor.verified:
        customer_id = await deps.store.customer_for(visitor.identity)
        if customer_id and not only_anonymous(await deps.store.customer(customer_id)):
            raise FrameError("invalid_token", "this visitor token no longer opens the conversation; reopen the chat")

    trusted: tuple[Network, ...] = request.app[TRUSTED_PROXIES]
    address = client_address(request.remote, request.headers.get("X-Forwarded-For"), trusted)
    cap = NewConversationCap(deps.redis, settings.new_conversations_per_address_per_hour)
    # Anonymous uploads count against the address's new-conversation cap like typed messages
    # (reserved first, given back when the upload joined a conversation that was open already).
    reserved = not visitor.verified
    if reserved and not await cap.reserve(address):
        raise FrameError("too_many_conversations", "too many new conversations from this address this hour")
    provider_id = f"{visitor.visitor_id}:{client_id}"
    name, data = form.files[0]
    try:
        # The id derives from the message's dedupe key: a retried upload overwrites, never duplicates.
        stored = await deps.attachments.save("webchat", data, name,
                                             attachment_id=derived_id(deps.secret_key, f"webchat:{provider_id}"))
        message = InboundMessage(channel=Channel.WEBCHAT, identity=visitor.identity, provider_id=provider_id,
                                 text=text, received_at=utcnow(), linked=visitor.linked, name=visitor.name,
                                 attachments=(stored,), meta={"visitor": visitor.visitor_id})
        result = await deps.service.ingest(message)
    except BaseException:
        if reserved:
            await cap.release(address)
        raise
    if reserved and result.outcome != "opened":
        await cap.release(address)
    if not visitor.verified and not result.duplicate:
        await deps.redis.zadd(keys.ANONYMOUS_ACTIVITY, {result.customer_id: now_ms()})
    return web.json_response({
        "message_id": result.message_id, "conversation_id": result.conversation_id, "duplicate": result.duplicate,
        "client_id": client_id,
        "attachment": {"name": stored.name, "content_type": stored.content_type, "size": stored.size,
                       "url": deps.attachments.posted_url(stored.id or "", now_ms() // 1000)},
    }, status=201, headers=CORS)


async def preflight(request: web.Request) -> web.Response:
    """Browsers that preflight anyway get the same answer: any origin, POST, no credentials."""
    return web.Response(status=204, headers={**CORS, "Access-Control-Allow-Methods": "POST",
                                             "Access-Control-Max-Age": "600"})

