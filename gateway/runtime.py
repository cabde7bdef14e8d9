"""The composition root: one place that wires settings, Redis, the store, rules, jobs and channels."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from channels.base import Sender
from channels.registry import build_senders
from conversations.events import EventBus
from conversations.models import Channel
from conversations.service import ConversationService
from conversations.store import ConversationStore
from gateway.settings import Settings
from router import LiveRules
from workers.dispatch import listeners
from workers.queues import JobQueues

log = logging.getLogger("gateway")


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    sync_redis: SyncRedis
    store: ConversationStore
    service: ConversationService
    rules: Any  # router.LiveRules, or a stand-in with .current and .status()
    jobs: JobQueues
    senders: dict[Channel, Sender]
    events: EventBus
    secret_key: bytes
    hub: Any = None  # channels.webchat.hub.Hub, in web processes
    extras: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        for sender in self.senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                await close()


def secret_key_bytes(settings: Settings) -> bytes:
    """The key that signs visitor tokens and reply addresses.

    Never a built-in default: a key anyone can read in the source would let
    anyone forge a visitor token. `gateway serve` and `gateway worker` refuse
    to start without GATEWAY_SECRET_KEY; the demo generates one.
    """
    if settings.secret_key is None:
        raise RuntimeError("GATEWAY_SECRET_KEY is not set")
    return settings.secret_key.get_secret_value().encode()


def load_live_rules(settings: Settings) -> LiveRules:
    """The configured rule file; the built-in rules when none was named and none exists.

    Raises:
        router.RulesError: the file is broken, or was named and is missing.
    """
    return LiveRules.open(settings.rules_path, explicit="rules_path" in settings.model_fields_set)


async def build_runtime(settings: Settings, redis: Redis, sync_redis: SyncRedis, *, role: str,
                        rules: Any = None) -> Runtime:
    store = ConversationStore(redis, reopen_window=settings.reopen_window)
    live_rules = rules or load_live_rules(settings)
    events = EventBus()
    jobs = JobQueues(sync_redis)
    service = ConversationService(store, lambda: live_rules.current, events)
    for listener in listeners(jobs, redis):
        events.subscribe(listener)
    return Runtime(
        settings=settings, redis=redis, sync_redis=sync_redis, store=store, service=service, rules=live_rules,
        jobs=jobs, senders=build_senders(settings, redis), events=events, secret_key=secret_key_bytes(settings),
    )
