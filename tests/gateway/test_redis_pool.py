"""The data client's pool waits for a free connection (GATEWAY_REDIS_POOL__*) instead of refusing a burst.

With one Redis and behind Sentinel, a command beyond ``MAX_CONNECTIONS`` waits up
to ``WAIT_SECONDS`` for a connection to come back; only past that does it fail,
as "storage unavailable" (the webhook answers 503 and the provider retries).
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio.connection import BlockingConnectionPool
from redis.exceptions import ConnectionError as RedisConnectionError

from conversations.errors import storage_unavailable
from gateway.redis_clients import BlockingSentinelConnectionPool, RedisClients
from gateway.settings import load_settings
from tests.support import wait_until

HOLD = 0.3  # how long each BLPOP holds its connection (a server-side timeout, not a wait in the test)


async def held_concurrently(data, count: int) -> int:
    """Run ``count`` commands that each hold a connection, all at once; the most connections seen at once."""
    peak = 0

    async def hold(n: int) -> None:
        nonlocal peak
        await data.blpop([f"test:pool:empty:{n}"], timeout=HOLD)
        peak = max(peak, len(data.connection_pool._in_use_connections) + 1)

    await asyncio.gather(*(hold(n) for n in range(count)))
    return peak


async def test_a_burst_beyond_the_pool_waits_instead_of_failing(monkeypatch, redis_url):
    monkeypatch.setenv("GATEWAY_REDIS_URL", redis_url)
    monkeypatch.setenv("GATEWAY_REDIS_POOL__MAX_CONNECTIONS", "2")
    monkeypatch.setenv("GATEWAY_REDIS_POOL__WAIT_SECONDS", "10")
    data = RedisClients(load_settings(_env_file=None)).data()
    try:
        assert isinstance(data.connection_pool, BlockingConnectionPool)
        assert await held_concurrently(data, 6) <= 2  # six commands, two connections, none refused
    finally:
        await data.aclose()


async def test_past_the_wait_a_command_is_storage_unavailable(monkeypatch, redis_url):
    monkeypatch.setenv("GATEWAY_REDIS_URL", redis_url)
    monkeypatch.setenv("GATEWAY_REDIS_POOL__MAX_CONNECTIONS", "1")
    monkeypatch.setenv("GATEWAY_REDIS_POOL__WAIT_SECONDS", "0.05")
    data = RedisClients(load_settings(_env_file=None)).data()
    try:
        holder = asyncio.create_task(data.blpop(["test:pool:empty"], timeout=1))
        await wait_until(lambda: data.connection_pool._in_use_connections, what="the BLPOP to hold the connection")
        with pytest.raises(RedisConnectionError) as refused:
            await data.get("anything")
        assert storage_unavailable(refused.value)
        await holder
    finally:
        await data.aclose()


async def test_behind_sentinel_the_pool_waits_too(monkeypatch):
    monkeypatch.setenv("GATEWAY_REDIS_SENTINELS", "10.0.0.1:26379")
    monkeypatch.setenv("GATEWAY_REDIS_SENTINEL_MASTER", "gateway")
    monkeypatch.setenv("GATEWAY_REDIS_POOL__MAX_CONNECTIONS", "7")
    monkeypatch.setenv("GATEWAY_REDIS_POOL__WAIT_SECONDS", "1.5")
    data = RedisClients(load_settings(_env_file=None)).data()
    pool = data.connection_pool
    assert isinstance(pool, BlockingSentinelConnectionPool) and isinstance(pool, BlockingConnectionPool)
    assert (pool.max_connections, pool.timeout, pool.service_name) == (7, 1.5, "gateway")
    await data.aclose()


def test_a_cluster_client_takes_the_connection_limit_per_node(monkeypatch):
    monkeypatch.setenv("GATEWAY_REDIS_CLUSTER", "true")
    monkeypatch.setenv("GATEWAY_REDIS_URL", "redis://10.0.0.5:7000/0")
    monkeypatch.setenv("GATEWAY_QUEUE_REDIS_URL", "redis://10.0.0.9:6379/2")
    monkeypatch.setenv("GATEWAY_REDIS_POOL__MAX_CONNECTIONS", "33")
    data = RedisClients(load_settings(_env_file=None)).data()
    assert data.nodes_manager.connection_kwargs["max_connections"] == 33
