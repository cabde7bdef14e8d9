"""The baselines: bare servers that speak each protocol, answer, and store nothing.

    python -m benchmarks.bare sms|webchat|fanout|smtp PORT

- ``sms``: aiohttp reads the webhook's form and answers empty TwiML.
- ``webchat``: aiohttp WebSocket; hello → welcome, each message → ack (JSON both ways).
- ``fanout``: like ``webchat``, plus ``POST /push/{visitor}`` sending a frame to that visitor's socket
  (the ceiling for "an agent's reply reaches the socket").
- ``smtp``: aiosmtpd that accepts every mail and discards it.

They run on the same event loop the gateway runs on (uvloop when installed), in
their own process, like ``gateway serve``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import WSMsgType, web

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def sms(request: web.Request) -> web.Response:
    await request.post()
    return web.Response(text=TWIML, content_type="text/xml")


SOCKETS: web.AppKey[dict[str, web.WebSocketResponse]] = web.AppKey("sockets", dict)


async def chat(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    visitor = ""
    async for frame in ws:
        if frame.type != WSMsgType.TEXT:
            continue
        data = json.loads(frame.data)
        if data.get("type") == "hello":
            visitor = str(data.get("name") or id(ws))
            request.app[SOCKETS][visitor] = ws
            await ws.send_json({"type": "welcome", "visitor_token": "t", "conversation_id": None, "messages": []})
        elif data.get("type") == "message":
            await ws.send_json({"type": "ack", "client_id": data.get("client_id"), "message_id": "m",
                                "conversation_id": "c", "duplicate": False})
    request.app[SOCKETS].pop(visitor, None)
    return ws


async def push(request: web.Request) -> web.Response:
    ws = request.app[SOCKETS].get(request.match_info["visitor"])
    body = await request.json()
    if ws is None:
        return web.json_response({"error": "no socket"}, status=404)
    await ws.send_json({"type": "message", "message": {"id": "m", "direction": "outbound",
                                                        "text": body.get("text", "")}})
    return web.json_response({"ok": True}, status=201)


def web_app(kind: str) -> web.Application:
    app = web.Application()
    app[SOCKETS] = {}
    app.router.add_get("/ready", ready)
    if kind == "sms":
        app.router.add_post("/sms/twilio", sms)
    else:
        app.router.add_get("/webchat/ws", chat)
        app.router.add_post("/push/{visitor}", push)
    return app


class Discard:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 2.0.0 OK: discarded"


async def smtp(port: int) -> None:
    from aiosmtpd.smtp import SMTP

    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Discard(), hostname="bare", decode_data=False,
                                                   enable_SMTPUTF8=True), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if kind == "smtp":
        asyncio.run(smtp(port))
    else:
        web.run_app(web_app(kind), host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
