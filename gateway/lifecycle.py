"""How every process starts, fails and stops.

Start: each check that can fail (settings, the rule file, Redis) fails with
one line naming what to fix, and exit code 2, before anything listens.

Stop: SIGTERM and SIGINT are caught from the first line of ``main`` (before
that the process has not started anything, and the default action simply
ends it). A signal during start-up is kept and acted on as soon as the
process runs; once it runs, the drain is:

- web (``serve``, ``demo``): stop accepting connections, close web chat
  sockets with 1001 "going away" (the widget reconnects, to another process
  behind the same URL), finish requests in flight (at most
  ``GATEWAY_SHUTDOWN_TIMEOUT_SECONDS``), then close Redis clients;
- ``worker``: RQ's warm stop, the job in progress finishes;
- ``sweeper``: the pass in progress finishes, the leader lock is handed over.

A second signal during the drain stops the process at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from types import FrameType

from aiohttp import web
from redis.exceptions import RedisError

from conversations.backoff import address_of, describe
from gateway import redaction
from gateway.redis_clients import RedisClients
from gateway.runtime import load_live_rules
from gateway.settings import Settings, SettingsError
from router import LiveRules, RulesError

log = logging.getLogger("gateway")
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """SIGTERM/SIGINT for the whole life of a process: a flag before the event loop runs, an event after."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    @property
    def requested(self) -> bool:
        return self.received is not None

    def install(self) -> None:
        for signum in SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Before the loop runs: only remember it (no logging inside a plain signal handler).
        self.received = self.received or signum

    def _note(self, signum: int) -> None:
        """The loop's handler (runs as a normal callback, so it may log)."""
        if self.received is not None and self._event is not None and self._event.is_set():
            log.warning("second %s: stopping now, without finishing the drain", signal.Signals(signum).name)
            os._exit(128 + signum)
        if self.received is None:
            log.info("%s received: stopping", signal.Signals(signum).name)
        self.received = signum
        if self._event is not None:
            self._event.set()

    def attach(self) -> asyncio.Event:
        """The stop event of the running loop (already set if a signal came before it ran)."""
        loop = asyncio.get_running_loop()
        self._loop, self._event = loop, asyncio.Event()
        for signum in SIGNALS:
            loop.add_signal_handler(signum, self._note, signum)
        if self.received is not None:
            self._event.set()
        return self._event

    def detach(self) -> None:
        """Back to the plain handlers (the loop is about to close)."""
        if self._loop is not None and not self._loop.is_closed():
            for signum in SIGNALS:
                self._loop.remove_signal_handler(signum)
        self._loop, self._event = None, None
        self.install()


STOP = StopSignals()


# -- start-up checks ------------------------------------------------------------------------


def require_redis(settings: Settings, command: str) -> None:
    """Redis answers a PING (the one RQ uses, found through Sentinel if so configured); otherwise one
    line naming GATEWAY_REDIS_URL and where the gateway looked."""
    if not settings.redis_configured:
        raise SettingsError(f"GATEWAY_REDIS_URL: required by `gateway {command}`"
                            + ("; use `gateway demo` for the embedded default" if command == "serve" else ""))
    clients = RedisClients(settings)
    where = clients.describe().removeprefix("Redis at ")
    try:
        client = clients.queue()
    except RedisError as error:  # a Sentinel that names no master
        raise SettingsError(f"GATEWAY_REDIS_URL: no Redis answers at {where} ({describe(error)}); "
                            f"start it, or fix the URL") from None
    try:
        client.ping()
    except RedisError as error:
        raise SettingsError(f"GATEWAY_REDIS_URL: no Redis answers at {where} ({describe(error)}); "
                            f"start it, or fix the URL") from None
    finally:
        client.close()


def open_rules(settings: Settings) -> LiveRules:
    """The rule file in force at start, or one line with file:line:column of its first error."""
    try:
        return load_live_rules(settings)
    except RulesError as error:
        raise SettingsError(f"rule file refused (GATEWAY_RULES_PATH): {error.summary}; "
                            f"`gateway rules check {settings.rules_path}` lists every error") from None


def require_secret_key(settings: Settings, command: str) -> None:
    if settings.secret_key is None or not settings.secret_key.get_secret_value().strip():
        raise SettingsError(f"GATEWAY_SECRET_KEY: required by `gateway {command}`: a long random string, "
                            "the same on every web and worker process (it signs visitor tokens and reply "
                            "addresses); `gateway keygen` prints one")


# -- the web process ------------------------------------------------------------------------


async def serve_web(app: web.Application, settings: Settings, *, on_listening: Callable[[], None] = lambda: None,
                    stop: StopSignals = STOP) -> None:
    """Run ``app`` until a stop signal, then drain; ``on_listening`` runs once the port accepts connections."""
    stopping = stop.attach()
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=settings.shutdown_timeout_seconds,
                           access_log_class=redaction.AccessLogger)
    try:
        try:
            await runner.setup()  # the app's start-up: Redis clients, services, listeners
        except RedisError as error:
            raise SettingsError(f"GATEWAY_REDIS_URL: Redis failed during start-up at "
                                f"{address_of(settings.redis_url or '')} ({describe(error)})") from None
        if not stopping.is_set():
            site = web.TCPSite(runner, settings.host, settings.port)
            try:
                await site.start()
            except OSError as error:
                raise SettingsError(f"GATEWAY_HOST/GATEWAY_PORT: cannot listen on {settings.host}:{settings.port} "
                                    f"({error.strerror or error})") from None
            log.info("listening on %s:%s", settings.host, settings.port)
            on_listening()
            await stopping.wait()
        log.info("draining: no new connections; web chat sockets closed with 1001; "
                 "finishing requests in flight (at most %gs)", settings.shutdown_timeout_seconds)
    finally:
        await runner.cleanup()
        stop.detach()
    log.info("stopped")
