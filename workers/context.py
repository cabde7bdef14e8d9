"""What a job runs on: the process's services, made by a factory the composition root installs.

Jobs are plain module-level functions that take ids. Each runs its async body
with ``run()``, which opens a fresh ``Services`` (new async Redis clients for
that event loop) from the installed factory and closes it afterwards. The
gateway installs the factory before any worker starts (``gateway worker``, the
demo's in-process workers, the tests), so this package never imports the
gateway that builds the object graph.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
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


@dataclass
class _State:
    factory: ServicesFactory | None = None


_state = _State()


def install(factory: ServicesFactory | None) -> None:
    """Set (or clear, with None) how jobs get their services; called once per worker process."""
    _state.factory = factory


def session() -> AbstractAsyncContextManager[Services]:
    if _state.factory is None:
        raise RuntimeError("no services factory installed: start workers with `gateway worker` (or `gateway demo`)")
    return _state.factory()


def run(body: Callable[[Services], Awaitable[T]], *, conversation_id: str | None = None) -> T:
    """Run ``body(services)`` on a fresh event loop: the job's whole life.

    ``conversation_id``: what the job is about; every line it logs carries it.
    """

    async def main() -> T:
        with about(conversation_id=conversation_id):
            async with session() as services:
                return await body(services)

    return asyncio.run(main())
