"""A messaging provider on localhost that records what it delivered, for the delivery tests.

``POST /messages`` with JSON ``{message_id, conversation_id, text}`` and an
``Idempotency-Key`` header. A delivery counts only once the provider could
answer it: a request whose client vanished (a worker killed mid-call) is
recorded as aborted, as a real provider would not have accepted it. A
repeated idempotency key is answered with the first result and recorded as
a replay, so tests can tell resends from deliveries.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class FakeProvider:
    delivered: list[dict] = field(default_factory=list)
    replayed: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    # Responses to give before delivering: (status, retry_after or None).
    failures: list[tuple[int, float | None]] = field(default_factory=list)
    # When set, request number ``hold_at`` waits here (a slow provider) until released.
    hold: asyncio.Event | None = None
    hold_at: int = 1
    held: asyncio.Event = field(default_factory=asyncio.Event)
    held_key: str = ""
    url: str = ""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _by_key: dict[str, str] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/messages", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        key = request.headers.get("Idempotency-Key", "")
        self.attempts.append(key)
        if self.hold is not None and len(self.attempts) == self.hold_at:
            self.held_key = key
            self.held.set()
            try:
                await self.hold.wait()
            except asyncio.CancelledError:  # aiohttp cancels handlers whose client went away
                self.aborted.append(key)
                raise
            if request.transport is None or request.transport.is_closing():
                self.aborted.append(key)
                return web.Response(status=499)
        if key in self._by_key:
            self.replayed.append(key)
            return web.json_response({"id": self._by_key[key]}, status=200)
        if self.failures:
            status, retry_after = self.failures.pop(0)
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return web.json_response({"error": f"status {status}"}, status=status, headers=headers)
        provider_id = f"pm-{next(self._ids)}"
        self._by_key[key] = provider_id
        self.delivered.append({**body, "key": key, "provider_id": provider_id})
        return web.json_response({"id": provider_id}, status=201)

    def texts_by_conversation(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for item in self.delivered:
            found.setdefault(item["conversation_id"], []).append(item["text"])
        return found
