"""Arming a batch on a Redis Cluster of three primaries: the batch's reads and writes span every node's
slots (one script call per slot), the timers and the backlog index live in slots of their own, and every
conversation ends as arming it alone leaves it."""

from __future__ import annotations

import pytest

from conversations import keys as core_keys
from conversations.store import ConversationStore
from tests.conversations.backlog_support import assert_index_exact
from tests.faults.cluster_service import cluster, service  # noqa: F401  (the fixtures)
from tests.workers.support import sms
from workers import arming, keys, timers


async def state(store: ConversationStore, ids: list[str]) -> dict:
    members = dict(await store.redis.zrange(keys.TIMERS, 0, -1, withscores=True))
    found = {}
    for conversation_id in ids:
        extra = (await store.conversation(conversation_id)).extra
        found[conversation_id] = ({k: v for k, v in extra.items() if k.startswith("sla_")},
                                  {m: s for m, s in members.items() if m.startswith(f"{conversation_id}|")})
    return found


@pytest.mark.timeout(120)
async def test_a_batch_on_a_cluster_arms_as_one_by_one_does(service):
    store, clock = service.store, service.clock
    rules = service.rules()
    ids = []
    for n in range(60):
        ids.append((await service.ingest(sms(f"hi {n}", f"p-{n}", clock.now, f"+1555{n:07d}"))).conversation_id)
        clock.advance(seconds=1)
    for conversation_id in ids[::4]:
        await service.reply(conversation_id, "on it", "agent")
    customers = {(await store.conversation(c)).customer_id for c in ids}
    nodes = {store.redis.get_node_from_key(core_keys.CustomerKeys(c).customer).name for c in customers}
    assert len(nodes) == 3  # the batch really spans the three primaries

    saved = {}
    for conversation_id in ids:
        key = core_keys.CustomerKeys((await store.conversation(conversation_id)).customer_id).conversation(conversation_id)
        saved[key] = await store.redis.hgetall(key)
    assert any([await timers.arm(store, rules, c) for c in ids])
    alone = await state(store, ids)
    for key, fields in saved.items():
        await store.redis.delete(key)
        await store.redis.hset(key, mapping=fields)
    await store.redis.delete(keys.TIMERS)

    armed = await arming.arm_batch(store, rules, ids)
    assert not armed.failed and sorted(armed.settled) == sorted(ids)
    assert len(armed.changed) == len([c for c in ids if alone[c][1]])
    assert await state(store, ids) == alone
    assert await store.redis.zcard(core_keys.INDEX_INTENTS) == 0  # every write's index sync finished
    assert await assert_index_exact(store.redis) == 60
