"""The gateway's own web pages: the demo page, the agent inbox, the dashboard, and their static files.

Every page and file here is sent with a strict Content-Security-Policy: scripts
and styles only from this origin (no inline ones, no eval), connections only
back to it, no frames, no plugins. The pages insert every text with
``textContent``, so a customer's message (or a mail's HTML, which arrives as
text) can never run as markup; the policy is the second wall if one ever did.
The pages need no build step: plain files in ``gateway/static``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",  # CSP 3: 'self' includes ws:/wss: to this host (the inbox's and the widget's sockets)
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
PAGES = {"/": "index.html", "/inbox": "inbox.html", "/dashboard": "dashboard.html"}
# Only these files are served: nothing else in the package directory is reachable by name.
STATIC_FILES = {
    "demo.css": "text/css", "demo.js": "text/javascript",
    "inbox.css": "text/css", "inbox.js": "text/javascript",
    "inbox_templates.js": "text/javascript", "common.js": "text/javascript",
    "dashboard.js": "text/javascript", "chart.umd.min.js": "text/javascript",
}


def _file(name: str) -> str:
    return str(resources.files("gateway").joinpath("static", name))


def _page(name: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(_file(name), headers={**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"})

    return handler


async def static(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        raise web.HTTPNotFound(text=f"no static file {name}")
    return web.FileResponse(_file(name), headers={**SECURITY_HEADERS, "Content-Type": f"{content_type}; charset=utf-8"})


def setup(app: web.Application, *, demo: bool = False) -> None:
    """The inbox and the dashboard (their data needs a token); the customer demo page only in the demo."""
    for path, name in PAGES.items():
        if path == "/" and not demo:
            continue
        app.router.add_get(path, _page(name))
    app.router.add_get("/static/{name}", static)
