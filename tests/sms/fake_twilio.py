"""A local stand-in for Twilio's Messages API that records what the official client sent."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class FakeTwilio:
    """``POST /2010-04-01/Accounts/{sid}/Messages.json``; answers 201 unless ``failures`` say otherwise."""

    requests: list[dict] = field(default_factory=list)
    # Queued answers for the next calls: (status, twilio error code, message).
    failures: list[tuple[int, int | None, str]] = field(default_factory=list)
    _sids: itertools.count = field(default_factory=lambda: itertools.count(1))
    # MMS media Twilio holds: path -> (content type, bytes); served only with the account's basic auth.
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    media_fetches: list[str] = field(default_factory=list)  # Authorization headers of media requests
    account_sid: str = ""
    auth_token: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self.create)
        app.router.add_get("/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}", self.get_media)
        return app

    def add_media(self, base_url: str, message_sid: str, content_type: str, data: bytes) -> str:
        """Hold a medium as Twilio would for an inbound MMS; its MediaUrl."""
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid}/Media/ME{len(self.media):032d}"
        self.media[path] = (content_type, data)
        return base_url.rstrip("/") + path

    async def get_media(self, request: web.Request) -> web.Response:
        self.media_fetches.append(request.headers.get("Authorization", ""))
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        found = self.media.get(request.path)
        if found is None:
            return web.json_response({"code": 20404, "message": "not found", "status": 404}, status=404)
        return web.Response(body=found[1], content_type=found[0])

    async def create(self, request: web.Request) -> web.Response:
        posted = await request.post()
        form = dict(posted)
        self.requests.append({"account": request.match_info["account"], "form": form,
                              "authorization": request.headers.get("Authorization", ""),
                              "media_urls": list(posted.getall("MediaUrl", []))})
        if self.failures:
            status, code, message = self.failures.pop(0)
            return web.json_response({"status": status, "code": code, "message": message,
                                      "more_info": f"https://www.twilio.com/docs/errors/{code}"}, status=status)
        sid = f"SM{next(self._sids):032d}"
        return web.json_response({
            "sid": sid, "account_sid": request.match_info["account"], "to": form.get("To"),
            "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body"), "status": "queued", "num_segments": "1", "num_media": "0",
            "direction": "outbound-api", "api_version": "2010-04-01", "price": None, "error_code": None,
            "error_message": None, "uri": f"/2010-04-01/Accounts/{request.match_info['account']}/Messages/{sid}.json",
            "date_created": "Mon, 03 Nov 2025 10:00:00 +0000", "date_updated": "Mon, 03 Nov 2025 10:00:00 +0000",
            "date_sent": None, "subresource_uris": {},
        }, status=201)

    @property
    def sent(self) -> list[dict]:
        return [r["form"] for r in self.requests]
