"""The backlog indexes on a Redis Cluster of three primaries: customers' keys spread over every node,
the index in the one slot of ``{ix}``; changes, merges, a crash between a change and its sync, a rebuild."""

from __future__ import annotations

import asyncio
import random

import pytest
from redis.cluster import key_slot

from conversations import keys
from conversations.backlog import Filter, Order
from conversations.errors import Conflict, InvalidRequest
from conversations.models import Channel, Identity
from tests.conversations.backlog_support import assert_index_exact, every_page, expected_order
from tests.faults.cluster_service import cluster, service  # noqa: F401  (the fixtures)
from tests.workers.support import sms


@pytest.mark.timeout(120)
async def test_the_index_stays_exact_while_customers_on_every_node_change_at_once(service):
    store, clock = service.store, service.clock
    assert store.index.cluster
    ids = [(await service.ingest(sms(f"hi {n}", f"p-{n}", clock.now, f"+1555{n:07d}"))).conversation_id
           for n in range(150)]
    customers = {(await store.conversation(c)).customer_id for c in ids}
    nodes = {store.redis.get_node_from_key(keys.CustomerKeys(c).customer).name for c in customers}
    assert len(nodes) == 3  # the customers really are spread over the three primaries
    rng = random.Random(13)

    async def act(conversation_id: str) -> None:
        clock.advance(milliseconds=1)
        verb = rng.choice(["transfer", "escalate", "resolve", "reopen", "note"])
        try:
            if verb == "transfer":
                await service.transfer(conversation_id, rng.choice(["support", "service"]), "agent")
            elif verb == "escalate":
                await service.escalate(conversation_id, "agent")
            elif verb == "resolve":
                await service.resolve(conversation_id, "agent")
            elif verb == "reopen":
                await service.reopen(conversation_id, "agent")
            else:
                await service.note(conversation_id, "looking", "agent")
        except (Conflict, InvalidRequest):
            pass

    for _ in range(8):
        await asyncio.gather(*(act(rng.choice(ids)) for _ in range(40)))
    await service.link_identity((await store.conversation(ids[0])).customer_id,
                                Identity(Channel.SMS, "+15550000001"), author="agent")  # a merge across nodes

    assert await assert_index_exact(store.redis) == 150
    assert await store.redis.zcard(keys.INDEX_INTENTS) == 0  # every change finished its sync
    slots = {key_slot(name.encode()) async for name in store.redis.scan_iter(match=f"{keys.INDEX_TAG}:*")}
    assert len(slots) == 1
    for wanted in (Filter(), Filter(queues=frozenset({"support"}), statuses=frozenset({"open"}), tiers=frozenset({2}))):
        for order in Order:
            assert await every_page(store.index, wanted, order, limit=7) == await expected_order(store.redis, wanted,
                                                                                                  order)


async def test_a_crash_between_a_change_and_its_sync_is_repaired_and_a_rebuild_restores_all(service):
    store, clock = service.store, service.clock
    ids = [(await service.ingest(sms(f"hi {n}", f"p-{n}", clock.now, f"+1555{n:07d}"))).conversation_id
           for n in range(20)]
    conversation = await store.conversation(ids[3])
    intent = await store.index.intend("conv", ids[3])
    key = keys.CustomerKeys(conversation.customer_id).conversation(ids[3])
    await store.redis.hset(key, mapping={"queue": "service", "tier": "2"})  # the change made, the sync never run
    await store.redis.hincrby(key, "index_version", 1)
    await store.redis.zadd(keys.INDEX_INTENTS, {intent: 1})  # ... long enough ago
    assert await store.index.repair() == 1
    await assert_index_exact(store.redis)

    async for name in store.redis.scan_iter(match=f"{keys.INDEX_TAG}:*"):
        await store.redis.delete(name)
    figures = await store.index.rebuild()
    assert figures == {"indexed": 20, "removed": 0}
    await assert_index_exact(store.redis)
    await store.search.rebuild()
    assert await store.search.find(["15550000003"], limit=5) == [conversation.customer_id]
