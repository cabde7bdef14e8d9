"""Reading mail off the event loop: a small process pool that lives as long as the web app.

Parsing MIME is CPU work (the standard library parser, charset decoding,
HTML → text). On the event loop, one large mail from anyone stalls every
request, ``/healthz`` included, for as long as it takes. In a worker process
it costs the loop nothing but handing the bytes over.

The pool is sized by ``GATEWAY_EMAIL__PARSE_WORKERS`` and started lazily (the
first mail starts a worker); ``forkserver`` workers are forked from a clean
single-threaded server that has the parser imported, never from the threaded
web process. A worker gives up on one mail after
``GATEWAY_EMAIL__PARSE_SECONDS`` (the mail is refused: retrying cannot make it
faster). A worker that dies (out of memory, killed) breaks the pool; the next
mail gets a fresh one, and the mail that was being read gets a temporary
failure so its sender tries again.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from aiohttp import web

from channels.email.inbound import ParsedEmail
from channels.email.parsing import parse_in_worker
from channels.email.settings import EmailSettings

log = logging.getLogger("gateway.email")

# A worker is replaced after this many mails, so a slow leak in a parser library stays bounded.
TASKS_PER_WORKER = 200


class ParserUnavailable(Exception):
    """No worker could read the mail (one died); nothing was stored, the sender should retry."""


class MailParser:
    """``await parse(raw, ...)``: ``parse_email`` in a worker process."""

    def __init__(self, workers: int, seconds: float) -> None:
        self.workers = workers
        self.seconds = seconds
        self._context = multiprocessing.get_context("forkserver")
        # Workers start with the parser imported instead of importing it for their first mail.
        self._context.set_forkserver_preload(["channels.email.parsing"])
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=self._context,
                                                 max_tasks_per_child=TASKS_PER_WORKER)
        return self._executor

    async def parse(self, raw: bytes, *, envelope_from: str | None = None,
                    recipients: Sequence[str] = ()) -> ParsedEmail:
        """Raises ``InvalidPayload`` (refuse the mail) or ``ParserUnavailable`` (try again later)."""
        executor = self._pool()
        try:
            # Submitted from a thread: a submit may start a worker process, which waits on the fork
            # server (for over a second while the server itself starts); the loop must not wait.
            future = await asyncio.to_thread(executor.submit, parse_in_worker, raw, envelope_from,
                                             list(recipients), self.seconds)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            log.error("a mail parser process died; starting a new pool")
            if self._executor is executor:
                self._executor = None
                executor.shutdown(wait=False, cancel_futures=True)
            raise ParserUnavailable("the mail parser stopped; try again") from None

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            # shutdown(wait=True) blocks until running parses end (bounded by the alarm): not on the loop.
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


PARSER: web.AppKey[MailParser] = web.AppKey("email_parser", MailParser)


def pool_context(settings: EmailSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    """cleanup_ctx: the app's mail parser; registered before the SMTP listener, so it closes after it."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        parser = MailParser(settings.parse_workers, settings.parse_seconds)
        app[PARSER] = parser
        try:
            yield
        finally:
            await parser.close()

    return lifecycle
