"""Reading mail off the event loop: a small process pool that lives as long as the web app.

Parsing MIME is CPU work (the standard library parser, charset decoding,
HTML → text). On the event loop, one large mail from anyone stalls every
request, ``/healthz`` included, for as long as it takes. In a worker process
it costs the loop nothing but handing the bytes over.

The pool is sized by ``GATEWAY_EMAIL__PARSE_WORKERS`` and started with the app
when it takes mail (else with the first mail); ``forkserver`` workers are forked from a clean
single-threaded server that has the parser imported, never from the threaded
web process, and run at a lower priority. A worker gives up on one mail after
``GATEWAY_EMAIL__PARSE_SECONDS`` of CPU time (the mail is refused: retrying
cannot make it faster). A worker that dies (out of memory, killed) breaks the pool; the next
mail gets a fresh one, and the mail that was being read gets a temporary
failure so its sender tries again.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
import types
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
WORKER_NICENESS = 5  # the web process gets about three times a worker's share of a busy CPU


class ParserUnavailable(Exception):
    """No worker could read the mail (one died); nothing was stored, the sender should retry."""


def _preload() -> list[str]:
    """What the fork server imports once, so that each worker forked from it starts with it imported.

    multiprocessing makes every child re-run the parent's main module before its first task: for
    ``gateway serve`` (the console script, ``from gateway.cli import main``) or ``python -m gateway.cli``,
    the whole web stack, ~1.4 s of CPU. A worker is replaced every ``TASKS_PER_WORKER`` mails, so under
    load that import cost several times the parsing and stalled a worker for seconds each time. With
    what the main module imports already in the fork server, a forked child's re-run finds it all
    imported. For ``-m``: the module itself (not a package's ``__main__``: multiprocessing never re-runs
    one); for a script: the modules its names come from.
    """
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    modules: list[str] = []
    if isinstance(name, str):
        if not name.endswith("__main__"):
            modules.append(name)
    elif main is not None:
        modules = sorted({module for value in vars(main).values() if (module := _module_of(value))})
    return ["channels.email.forkserver_quiet", *modules, "channels.email.parsing"]


def _module_of(value: object) -> str | None:
    """The module a name of the main script comes from (``from gateway.cli import main``: gateway.cli)."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    module = getattr(value, "__module__", None)
    return module if isinstance(module, str) and module != "__main__" else None


def _lower_priority() -> None:
    """In each worker: reading mail is background work; the web process answers first on a busy CPU."""
    os.nice(WORKER_NICENESS)


class MailParser:
    """``await parse(raw, ...)``: ``parse_email`` in a worker process."""

    def __init__(self, workers: int, seconds: float) -> None:
        self.workers = workers
        self.seconds = seconds
        self._context = multiprocessing.get_context("forkserver")
        # Workers start with the parser (and the main module) imported instead of importing them each.
        self._context.set_forkserver_preload(_preload())
        self._executor: ProcessPoolExecutor | None = None
        self._warming: asyncio.Task[None] | None = None

    def warm_up(self) -> None:
        """Start the workers now, in the background, rather than with the first mail.

        Starting them costs a second or two of CPU (the fork server imports the
        parser); paid at start-up, it competes with nothing.
        """
        executor = self._pool()

        def start_workers() -> None:
            for future in [executor.submit(os.getpid) for _ in range(self.workers)]:
                future.result()

        self._warming = asyncio.create_task(asyncio.to_thread(start_workers), name="mail-parser-warm-up")

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=self._context,
                                                 max_tasks_per_child=TASKS_PER_WORKER, initializer=_lower_priority)
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
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)
        executor, self._executor = self._executor, None
        if executor is not None:
            # shutdown(wait=True) blocks until running parses end (bounded by the alarm): not on the loop.
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


def takes_mail(settings: EmailSettings) -> bool:
    """Is any inbound mail path configured (the SMTP listener, Mailgun, SendGrid)?"""
    return (settings.smtp_listen_port is not None or settings.mailgun_signing_key is not None
            or settings.sendgrid_secret is not None)


PARSER: web.AppKey[MailParser] = web.AppKey("email_parser", MailParser)


def pool_context(settings: EmailSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    """cleanup_ctx: the app's mail parser; registered before the SMTP listener, so it closes after it."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        parser = MailParser(settings.parse_workers, settings.parse_seconds)
        app[PARSER] = parser
        if takes_mail(settings):
            parser.warm_up()
        try:
            yield
        finally:
            await parser.close()

    return lifecycle
