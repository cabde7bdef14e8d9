"""The embedded default: an in-process Redis (fakeredis) and in-process job workers.

For ``gateway demo`` on a machine with nothing but ``pip install``; nothing is persisted.
"""

from __future__ import annotations

import fakeredis
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from gateway.runtime import load_live_rules, services_factory
from gateway.settings import Settings
from router import LiveRules
from workers import context
from workers.embedded import EmbeddedWorkers


class EmbeddedRedis:
    """One in-process server, with async clients for the web side and sync ones for RQ."""

    def __init__(self) -> None:
        self.server = fakeredis.FakeServer()

    def async_client(self) -> Redis:
        return fakeredis.FakeAsyncRedis(server=self.server, decode_responses=True)

    def sync_client(self) -> SyncRedis:
        return fakeredis.FakeRedis(server=self.server)  # RQ needs raw bytes


def start_embedded(settings: Settings, rules: LiveRules | None = None) -> tuple[EmbeddedRedis, EmbeddedWorkers,
                                                                                 LiveRules]:
    """The in-process server, workers whose jobs share it, and the one rule set both sides use."""
    embedded = EmbeddedRedis()
    rules = rules or load_live_rules(settings)
    context.install(services_factory(settings, rules, embedded.async_client, embedded.sync_client))
    workers = EmbeddedWorkers(embedded.sync_client())
    return embedded, workers, rules
