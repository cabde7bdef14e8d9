"""Behind a real Sentinel set, the data client's pool waits for a free connection instead of refusing."""

from __future__ import annotations

from gateway.redis_clients import BlockingSentinelConnectionPool, RedisClients
from gateway.settings import load_settings
from tests.faults.servers import SentinelSet
from tests.gateway.test_redis_pool import held_concurrently


async def test_a_burst_beyond_the_sentinel_pool_waits(monkeypatch):
    sentinels = SentinelSet().start()
    try:
        monkeypatch.setenv("GATEWAY_REDIS_SENTINELS", sentinels.addresses)
        monkeypatch.setenv("GATEWAY_REDIS_SENTINEL_MASTER", sentinels.service)
        monkeypatch.setenv("GATEWAY_REDIS_POOL__MAX_CONNECTIONS", "2")
        monkeypatch.setenv("GATEWAY_REDIS_POOL__WAIT_SECONDS", "10")
        data = RedisClients(load_settings(_env_file=None)).data()
        try:
            assert isinstance(data.connection_pool, BlockingSentinelConnectionPool)
            assert await held_concurrently(data, 6) <= 2
            assert await data.set("test:pool:written", "1")  # on the primary Sentinel names
        finally:
            await data.aclose()
    finally:
        sentinels.stop()
