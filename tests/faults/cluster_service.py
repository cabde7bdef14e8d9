"""A Redis Cluster of three primaries for a test module, and a conversation service on it (emptied per test)."""

from __future__ import annotations

import pytest
from redis.asyncio.cluster import RedisCluster

from conversations.service import ConversationService
from conversations.store import ConversationStore
from gateway.redis_clients import close_data, prepare
from tests.faults.servers import Cluster
from tests.workers.support import Clock, live_rules


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
async def service(cluster):
    redis = RedisCluster.from_url(cluster.url, decode_responses=True)
    await prepare(redis)
    for node in redis.get_primaries():
        await redis.flushall(target_nodes=node)
    rules = live_rules()
    yield ConversationService(ConversationStore(redis), lambda: rules.current, clock=Clock())
    await close_data(redis)
