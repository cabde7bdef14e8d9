"""What a job needs to run: settings, a store, the service, the channel senders.

Jobs are plain module-level functions that take ids. Each runs its async body
with ``run()``, which builds a fresh async Redis client for that event loop.
The embedded demo sets ``redis_factory`` to share its in-process server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import get_current_job

from gateway.settings import Settings, load_settings

T = TypeVar("T")

_settings: Settings | None = None
redis_factory: Callable[[], Redis] | None = None
sync_redis_factory: Callable[[], SyncRedis] | None = None
# The rule set in force for this process's jobs: loaded once (the forking worker loads it
# before forking, so each job does not parse the file again), reloaded when the file changes.
_rules: Any = None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = load_settings()
    return _settings


def configure(
    new_settings: Settings,
    factory: Callable[[], Redis] | None = None,
    sync_factory: Callable[[], SyncRedis] | None = None,
    rules: Any = None,
) -> None:
    """Used by the web process in embedded mode and by tests (``rules``: a LiveRules to share)."""
    global _settings, redis_factory, sync_redis_factory, _rules
    _settings = new_settings
    _rules = rules
    redis_factory = factory
    sync_redis_factory = sync_factory


def make_redis() -> Redis:
    if redis_factory is not None:
        return redis_factory()
    url = settings().redis_url
    if not url:
        raise RuntimeError("GATEWAY_REDIS_URL is not set; workers need a Redis server (or run `gateway demo`)")
    return Redis.from_url(url, decode_responses=True)


def make_sync_redis() -> SyncRedis:
    """The connection RQ itself uses: the running job's, so embedded mode shares its server."""
    job = get_current_job()
    if job is not None:
        return job.connection
    if sync_redis_factory is not None:
        return sync_redis_factory()
    return SyncRedis.from_url(settings().redis_url or "redis://localhost:6379/0")


_rules: Any = None


def live_rules() -> Any:
    """One LiveRules per worker process, checked for an edited file before each job (a stat call)."""
    global _rules
    from gateway.runtime import load_live_rules

    if _rules is None:
        _rules = load_live_rules(settings())
    else:
        _rules.reload_if_changed()
    return _rules


@asynccontextmanager
async def session():
    from gateway.runtime import build_runtime  # the composition root; imported late to avoid a cycle

    redis = make_redis()
    runtime = await build_runtime(settings(), redis, make_sync_redis(), role="worker", rules=live_rules())
    try:
        yield runtime
    finally:
        await runtime.close()
        await redis.aclose()


def run(body: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``body(runtime)`` on a fresh event loop: the job's whole life."""

    async def main() -> T:
        async with session() as runtime:
            return await body(runtime)

    return asyncio.run(main())
