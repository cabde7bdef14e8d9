"""A local stand-in for Twilio's Messages API that records what the official client sent."""

from __future__ import annotations

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

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self.create)
        return app

    async def create(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.requests.append({"account": request.match_info["account"], "form": form,
                              "authorization": request.headers.get("Authorization", "")})
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
