"""What a job runs on: the process's services, made by a factory the composition root installs.

Jobs are plain module-level functions that take ids. Each runs its async body
with ``run()``. By default that opens a fresh ``Services`` (new async Redis
clients for a new event loop) from the installed factory and closes it
afterwards. ``gateway worker`` installs the factory as *kept*: one event loop
and one ``Services`` serve every job of the process (``JobLoop``), because
building them per job (clients, connections, a loop) cost more than most jobs'
own work. The gateway installs the factory before any worker starts
(``gateway worker``, the demo's in-process workers, the tests), so this package
never imports the gateway that builds the object graph.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, suppress
from dataclasses import dataclass, field
from typing import TypeVar

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from channels.base import Sender
from channels.slack.settings import SlackSettings
from conversations.attachments import Attachments
from conversations.events import EventBus
from conversations.logcontext import about
from conversations.models import Channel
from conversations.service import ConversationService
from conversations.store import ConversationStore
from router import LiveRules
from templates import LiveTemplates, TemplateSet
from workers.queues import JobQueues
from channels.webchat.settings import WebchatSettings
from workers.proactive_settings import ProactiveSettings
from workers.retention import RetentionSettings
from workers.settings import WorkerSettings

T = TypeVar("T")
log = logging.getLogger("gateway.worker")


@dataclass
class Services:
    """The shared services of one process (or one job): built by the gateway, used by jobs and the sweeper.

    Attributes:
        settings: the workers' own settings group.
        slack: the Slack group, for the console's jobs.
        public_url: the gateway's public URL, for links shown to agents.
        redis: async client (``decode_responses``); ``sync_redis``: RQ's client (bytes).
        rules: the rule file in force, reloaded when it changes.
        senders: one sender per configured channel.
        webchat: the web chat group, for the sweeper's retention of anonymous visitors.
        templates: the response templates in force, reloaded when the file changes.
        proactive: the batch proactive messages' group (pace per channel).
        attachments: the attachment store (files agents send, signed URLs in the Slack console).
        retention: when resolved conversations move to the archive (the sweeper).
    """

    settings: WorkerSettings
    slack: SlackSettings
    public_url: str
    redis: Redis
    sync_redis: SyncRedis
    store: ConversationStore
    service: ConversationService
    rules: LiveRules
    jobs: JobQueues
    senders: Mapping[Channel, Sender]
    events: EventBus
    webchat: WebchatSettings = field(default_factory=WebchatSettings)
    templates: LiveTemplates = field(default_factory=lambda: LiveTemplates.of(TemplateSet()))
    proactive: ProactiveSettings = field(default_factory=ProactiveSettings)
    attachments: Attachments | None = None
    retention: RetentionSettings = field(default_factory=RetentionSettings)

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()
        if self.attachments is not None:
            await self.attachments.close()


ServicesFactory = Callable[[], AbstractAsyncContextManager[Services]]


class JobLoop:
    """One event loop and one open ``Services`` for every job of a (non-forking) worker process.

    Opened at the first job. Before each job the rule and template files are
    checked for edits, as a fresh session would. A job that fails with an
    exception leaves both as they are (its task ended; the loop is fine). A job
    interrupted from outside its task (RQ's job timeout, raised by a signal
    handler wherever the loop happened to be) leaves the loop in an unknown
    state: both are discarded and the next job opens new ones.
    """

    def __init__(self, factory: ServicesFactory) -> None:
        self._factory = factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stack: AsyncExitStack | None = None
        self._services: Services | None = None

    def run(self, body: Callable[[Services], Awaitable[T]], conversation_id: str | None) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        task = self._loop.create_task(self._job(body, conversation_id))
        try:
            return self._loop.run_until_complete(task)
        except BaseException:
            if not task.done():
                self.close()
            raise

    async def _job(self, body: Callable[[Services], Awaitable[T]], conversation_id: str | None) -> T:
        services = await self._open()
        services.rules.reload_if_changed()
        services.templates.reload_if_changed()
        with about(conversation_id=conversation_id):
            return await body(services)

    async def _open(self) -> Services:
        if self._services is None:
            stack = AsyncExitStack()
            self._services = await stack.enter_async_context(self._factory())
            self._stack = stack
        return self._services

    def close(self) -> None:
        """Close the services and the loop (best effort: after an interruption either may be broken)."""
        loop, stack = self._loop, self._stack
        self._loop, self._stack, self._services = None, None, None
        if loop is None:
            return
        try:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            if stack is not None:
                with suppress(Exception):
                    loop.run_until_complete(asyncio.wait_for(stack.aclose(), timeout=10))
        except Exception:  # a loop interrupted mid-step may refuse to run again: dropping it is the point
            log.debug("worker: the job loop did not close cleanly", exc_info=True)
        finally:
            with suppress(Exception):
                loop.close()


@dataclass
class _State:
    factory: ServicesFactory | None = None
    kept: JobLoop | None = None


_state = _State()


def install(factory: ServicesFactory | None, *, keep: bool = False) -> None:
    """Set (or clear, with None) how jobs get their services; called once per worker process.

    ``keep``: every job runs on one event loop with one ``Services`` (see ``JobLoop``),
    for a worker that runs its jobs in its own process and thread.
    """
    if _state.kept is not None:
        _state.kept.close()
    _state.factory = factory
    _state.kept = JobLoop(factory) if keep and factory is not None else None


def session() -> AbstractAsyncContextManager[Services]:
    if _state.factory is None:
        raise RuntimeError("no services factory installed: start workers with `gateway worker` (or `gateway demo`)")
    return _state.factory()


def run(body: Callable[[Services], Awaitable[T]], *, conversation_id: str | None = None) -> T:
    """Run ``body(services)`` on a fresh event loop: the job's whole life.

    ``conversation_id``: what the job is about; every line it logs carries it.
    """

    if _state.kept is not None:
        return _state.kept.run(body, conversation_id)

    async def main() -> T:
        with about(conversation_id=conversation_id):
            async with session() as services:
                return await body(services)

    return asyncio.run(main())
