"""One socket's outgoing frames: a bounded queue and one writer task.

Nobody awaits a visitor's network: the hub and the socket's own handler put
frames here and go on. A visitor that stops reading fills only its own queue;
when that is full its connection is cut (it would not read a close frame
either). Other sockets never wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web

log = logging.getLogger("gateway.webchat.outbox")

TOO_SLOW = 4009
CLOSE_WAIT_SECONDS = 2.0


class Outbox:
    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None, limit: int) -> None:
        self.ws = ws
        self.transport = transport
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=limit)
        self.closing = False
        self._writer = asyncio.create_task(self._write(), name="webchat-outbox")
        self._closer: asyncio.Task[None] | None = None

    def put(self, frame: dict[str, Any]) -> bool:
        """Queue a frame; False if the socket is closing or was too far behind (and is now being closed)."""
        if self.closing:
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("web chat socket %d frames behind; closing it", self.queue.maxsize)
            self._closer = asyncio.create_task(self.close(TOO_SLOW, "too slow: frames were not read"))
            return False
        return True

    async def _write(self) -> None:
        while True:
            frame = await self.queue.get()
            try:
                await self.ws.send_json(frame)
            except (ConnectionError, RuntimeError):
                return  # the socket is gone; its handler notices and cleans up
            finally:
                self.queue.task_done()

    async def close(self, code: int, reason: str) -> None:
        """Send what is queued (if the visitor reads), then close with ``code``; cut the connection if stuck."""
        if self.closing:
            return
        self.closing = True
        if code == TOO_SLOW:
            # It does not read: a close frame would only wait behind the frames it ignores.
            self._writer.cancel()
            self._abort()
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_WAIT_SECONDS
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout=CLOSE_WAIT_SECONDS)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()[:120]),
                                   timeout=max(deadline - loop.time(), 0.1))
        except (TimeoutError, ConnectionError, RuntimeError):
            self._abort()

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def finish(self) -> None:
        """The socket ended: stop the writer (frames left are for nobody)."""
        self.closing = True
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        if self._closer is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._closer
