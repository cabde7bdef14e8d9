"""The test suite's provider fakes (Twilio, Slack) served from a thread of the benchmark process.

Every request they receive is stamped with its arrival time (``arrivals``),
so a benchmark can measure when a message reached the provider.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.support import free_port


@dataclass
class Arrival:
    at: float  # time.perf_counter() when the request arrived
    path: str
    form: dict[str, str]


@dataclass
class ServedFake:
    """An aiohttp app on 127.0.0.1 in its own thread and event loop."""

    app: web.Application
    port: int = field(default_factory=free_port)
    arrivals: list[Arrival] = field(default_factory=list)
    # Markers (matches of this pattern in any form value) → when a request first carried them.
    marker: re.Pattern[str] | None = None
    first_seen: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"fake-{self.port}")
        self.app.middlewares.append(self._stamp)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @web.middleware
    async def _stamp(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        at = time.perf_counter()
        response = await handler(request)  # the fake reads the body first (a read body is cached)
        form: dict[str, str] = {}
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        elif request.content_type == "application/json":
            body = await request.json()
            form = {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
        self.arrivals.append(Arrival(at, request.path, form))
        if self.marker is not None:
            for value in form.values():
                for found in self.marker.findall(value):
                    self.first_seen.setdefault(found, at)
        return response

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(self.app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._runner = runner
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def __enter__(self) -> "ServedFake":
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
