"""``GET /attachments/{id}?exp=&sig=``: a stored file, for whoever holds an unexpired signed URL.

No token: the URL itself is the permission (agents' browsers, Slack link
previews, Twilio fetching MMS media all open it). A bad or expired signature
and an unknown id look the same (403), so ids cannot be probed; there is no
listing route.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from channels.deps import CHANNEL_DEPS
from conversations.clock import now_ms

routes = web.RouteTableDef()
INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain")


@routes.get("/attachments/{id}")
async def attachment(request: web.Request) -> web.Response:
    attachments = request.app[CHANNEL_DEPS].attachments
    found = await attachments.open(request.match_info["id"], request.query.get("exp", ""),
                                   request.query.get("sig", ""), now_ms() // 1000)
    if found is None:
        raise web.HTTPForbidden(text="this link is invalid or has expired; open the attachment from a fresh view")
    data, meta = found
    disposition = "inline" if meta.content_type in INLINE else "attachment"
    return web.Response(body=data, content_type=meta.content_type, headers={
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(meta.name)}",
        # The type was sniffed when stored; browsers must not guess another (no HTML from a "text" file).
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=60",
        "Referrer-Policy": "no-referrer",
    })
