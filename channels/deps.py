"""What the channels' web handlers need from the process, typed, and nothing more.

The gateway (the composition root) fills one ``ChannelDeps`` at start-up and
puts it in the app under ``CHANNEL_DEPS``; each channel's settings group sits
under its own key, set by that channel's ``setup``. Handlers never see the
rest of the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web
from redis.asyncio import Redis

from channels.webchat.hub import Hub
from conversations.attachments import Attachments
from conversations.service import ConversationService
from conversations.store import ConversationStore


class JobQueue(Protocol):
    """Enqueue a job by its dotted name, so the web side never imports the job's module."""

    async def enqueue(self, queue: str, func: str, *args: Any, job_id: str | None = None,
                      retry_intervals: Sequence[int] | None = None, at: datetime | None = None) -> object: ...


@dataclass(frozen=True)
class ChannelDeps:
    """The shared services a channel handler may use.

    Attributes:
        store: reads (a conversation's thread, a provider id's message).
        service: the verbs (ingest, record_delivery).
        redis: the async client, for a channel's own keys.
        secret_key: signs visitor tokens and reply addresses.
        jobs: job queues, by dotted job name.
        public_url: the URL providers call us at (Twilio signs it).
        hub: the web chat fan-out of this process.
        attachments: the attachment store behind each channel's limits, and its signed URLs.
    """

    store: ConversationStore
    service: ConversationService
    redis: Redis
    secret_key: bytes
    jobs: JobQueue
    public_url: str
    hub: Hub
    attachments: Attachments


CHANNEL_DEPS: web.AppKey[ChannelDeps] = web.AppKey("channel_deps", ChannelDeps)
