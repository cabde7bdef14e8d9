"""One middleware maps every error to a status code and a JSON reason."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from conversations.attachments import AttachmentRejected
from conversations.messages import InvalidPayload, InvalidSignature
from conversations.errors import DomainError, storage_unavailable
from conversations.logcontext import about

log = logging.getLogger("gateway.http")


def error_response(status: int, reason: str, **extra: object) -> web.Response:
    return web.json_response({"error": reason, **extra}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    # Lines logged while handling /api/conversations/{id}/… carry the conversation id.
    conversation_id = request.match_info.get("id") if request.path.startswith("/api/conversations/") else None
    with about(conversation_id=conversation_id):
        return await _mapped(request, handler)


async def _mapped(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400 or error.content_type == "application/json":
            raise
        reason = error.text if error.text and not error.text.startswith(str(error.status)) else error.reason
        return error_response(error.status, reason)
    except DomainError as error:
        return error_response(error.status, str(error))
    except AttachmentRejected as error:
        return error_response(error.status, str(error))
    except InvalidSignature as error:
        return error_response(401, str(error) or "invalid signature")
    except InvalidPayload as error:
        return error_response(400, str(error))
    except ValidationError as error:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()]
        return error_response(400, "; ".join(problems))
    except Exception as error:
        if storage_unavailable(error):
            # Redis is restarting or failing over: not acknowledged, so the provider retries
            # (a retry of something that was stored after all is recognised as a duplicate).
            log.error("storage unavailable on %s %s: %s", request.method, request.path, error)
            return error_response(503, "storage unavailable, retry later")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error")
