"""The backlog indexes on a real redis-server: exact at 10,000+ conversations, every page once, concurrent
changes, a crash between a change and its index sync, and a rebuild from the stored conversations."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from conversations import keys
from conversations.backlog import LIVE, NO_DEADLINE, Cursor, Filter, Order, entry_of
from conversations.errors import Conflict, InvalidRequest
from conversations.models import Channel, Identity
from conversations.service import ConversationService
from conversations.store import ConversationStore
from tests.conversations.backlog_support import assert_index_exact, every_page, expected_order
from tests.support import ROOT
from tests.workers.support import Clock, live_rules, sms, write_rules
from workers import timers

BUSY = 10_050  # newer conversations around the quiet one
SUPPORT_T2_OPEN = Filter(queues=frozenset({"support"}), statuses=frozenset({"open"}), tiers=frozenset({2}))


@pytest.fixture
async def world(redis_url):
    redis = Redis.from_url(redis_url, decode_responses=True)
    rules = live_rules()
    clock = Clock()
    service = ConversationService(ConversationStore(redis), lambda: rules.current, clock=clock)
    yield service, clock, rules.current
    await redis.aclose()


async def in_batches(calls, size: int = 50) -> list:
    results = []
    for start in range(0, len(calls), size):
        results += await asyncio.gather(*(call() for call in calls[start:start + size]))
    return results


@pytest.mark.timeout(300)
async def test_a_quiet_old_conversation_is_listed_first_among_10_000_in_its_queue_tier(world):
    service, clock, rules = world
    store, index = service.store, service.store.index
    quiet = (await service.ingest(sms("the export never finishes", "quiet", clock.now, "+16660000000"))).conversation_id
    await service.escalate(quiet, "agent")  # support tier 2
    await timers.arm(store, rules, quiet)  # first response due a minute after it came in

    clock.advance(days=3)  # then a busy week: 10,050 newer conversations, all more recently active

    def one(n: int):
        async def call():
            result = await service.ingest(sms(f"help {n}", f"in-{n}", clock.now, f"+1555{n:07d}"))
            if n % 3 == 0:
                await service.escalate(result.conversation_id, "agent")
            if n % 50 == 0:
                await timers.arm(store, rules, result.conversation_id)
            if n % 7 == 0:
                await service.transfer(result.conversation_id, "service", "agent")
            if n % 11 == 0:
                await service.resolve(result.conversation_id, "agent")
            return result.conversation_id
        return call

    ids = await in_batches([one(n) for n in range(BUSY)])
    assert len(set(ids)) == BUSY

    urgent = await index.page(SUPPORT_T2_OPEN, Order.URGENCY, limit=5)
    assert urgent.items[0][0] == quiet  # the earliest deadline of all, however quiet
    listed = await every_page(index, SUPPORT_T2_OPEN, Order.URGENCY, limit=200)
    assert listed == await expected_order(store.redis, SUPPORT_T2_OPEN, Order.URGENCY)
    assert len(listed) > BUSY // 5 and listed[0] == quiet

    by_activity = await every_page(index, SUPPORT_T2_OPEN, Order.ACTIVITY, limit=200)
    assert by_activity == await expected_order(store.redis, SUPPORT_T2_OPEN, Order.ACTIVITY)
    assert by_activity[-1] == quiet  # least recently active: last, but there
    assert await index.count(SUPPORT_T2_OPEN) == len(by_activity)
    assert await assert_index_exact(store.redis) == BUSY + 1


async def test_every_page_holds_each_conversation_once_across_buckets_and_ties(world):
    service, clock, _ = world
    ids = []
    for n in range(230):  # one clock reading for all: every score ties, ids break them
        result = await service.ingest(sms(f"hi {n}", f"p-{n}", clock.now, f"+1555{n:07d}"))
        ids.append(result.conversation_id)
        if n % 4 == 0:
            await service.transfer(result.conversation_id, "service", "agent")
        if n % 5 == 0:
            await service.escalate(result.conversation_id, "agent")
    for order in Order:
        for limit in (1, 7, 50, 229, 230, 1000):
            pages = await every_page(service.store.index, Filter(), order, limit=limit)
            assert sorted(pages) == sorted(ids) and len(pages) == len(set(pages)), (order, limit)
            assert pages == await expected_order(service.store.redis, Filter(), order)


async def test_a_page_after_a_changed_cursor_item_goes_on_where_it_stood(world):
    service, clock, _ = world
    ids = []
    for n in range(20):
        clock.advance(seconds=1)
        ids.append((await service.ingest(sms(f"hi {n}", f"p-{n}", clock.now, f"+1555{n:07d}"))).conversation_id)
    index = service.store.index
    first = await index.page(Filter(), Order.ACTIVITY, limit=5)
    assert [i for i, _ in first.items] == ids[::-1][:5]
    clock.advance(seconds=1)
    await service.note(ids[15], "moved to the top", "agent")  # the cursor's own item moves away
    second = await index.page(Filter(), Order.ACTIVITY, limit=5, cursor=first.next_cursor)
    assert [i for i, _ in second.items] == ids[::-1][5:10]


async def test_concurrent_transfers_escalations_and_messages_keep_the_index_exact(world):
    service, clock, _ = world
    ids = [(await service.ingest(sms(f"hi {n}", f"p-{n}", clock.now, f"+1555{n:07d}"))).conversation_id
           for n in range(12)]
    rng = random.Random(14)

    async def act(conversation_id: str, step: int) -> None:
        clock.advance(milliseconds=1)
        verb = rng.choice(["transfer", "escalate", "resolve", "reopen", "message", "note"])
        try:
            if verb == "transfer":
                await service.transfer(conversation_id, rng.choice(["support", "service"]), "agent")
            elif verb == "escalate":
                await service.escalate(conversation_id, "agent")
            elif verb == "resolve":
                await service.resolve(conversation_id, "agent")
            elif verb == "reopen":
                await service.reopen(conversation_id, "agent")
            elif verb == "message":
                identity = (await service.store.customer((await service.store.conversation(conversation_id))
                                                         .customer_id)).identities[0]
                await service.ingest(sms("again", f"again-{conversation_id}-{step}", clock.now, identity.address))
            else:
                await service.note(conversation_id, "looking", "agent")
        except (Conflict, InvalidRequest):
            pass  # e.g. already in that queue, already resolved: refused, nothing written

    # 60 at a time: each WATCH holds a connection of the client's pool.
    await in_batches([lambda step=step: act(rng.choice(ids), step) for step in range(600)], size=60)
    await assert_index_exact(service.store.redis)


async def test_transfers_racing_on_one_conversation_leave_its_newest_state(world):
    service, clock, _ = world
    conversation_id = (await service.ingest(sms("hi", "p-1", clock.now))).conversation_id
    for _ in range(10):
        results = await asyncio.gather(*(service.transfer(conversation_id, queue, f"agent {n}")
                                         for n, queue in enumerate(["service", "support"] * 10)),
                                       return_exceptions=True)
        assert all(isinstance(r, Conflict) or not isinstance(r, BaseException) for r in results)
        await assert_index_exact(service.store.redis)
    state = await service.store.redis.hget(keys.INDEX_STATE, conversation_id)
    assert state.split("|")[0] == (await service.store.redis.hget(
        keys.CustomerKeys((await service.store.conversation(conversation_id)).customer_id).conversation(
            conversation_id), "index_version"))


async def test_a_change_whose_process_died_before_the_sync_is_repaired_by_the_sweep(world):
    service, clock, _ = world
    store = service.store
    conversation_id = (await service.ingest(sms("hi", "p-1", clock.now))).conversation_id
    customer_id = (await store.conversation(conversation_id)).customer_id
    # What a process on a cluster leaves when it dies between its transaction and the sync:
    # the intent, and the conversation changed in its own slot.
    intent = await store.index.intend("conv", conversation_id)
    key = keys.CustomerKeys(customer_id).conversation(conversation_id)
    await store.redis.hset(key, mapping={"queue": "service", "tier": "3"})
    await store.redis.hincrby(key, "index_version", 1)
    with pytest.raises(AssertionError):
        await assert_index_exact(store.redis)
    assert await store.index.repair() == 0  # a change under way is left alone for a while
    await store.redis.zadd(keys.INDEX_INTENTS, {intent: 1})  # ... until it is older than REPAIR_AFTER
    assert await store.index.repair() == 1
    await assert_index_exact(store.redis)
    assert await store.redis.zcard(keys.INDEX_INTENTS) == 0


async def test_an_old_sync_arriving_late_changes_nothing(world):
    service, clock, _ = world
    store = service.store
    conversation_id = (await service.ingest(sms("hi", "p-1", clock.now))).conversation_id
    customer_id = (await store.conversation(conversation_id)).customer_id
    old = await store.redis.hgetall(keys.CustomerKeys(customer_id).conversation(conversation_id))
    await service.transfer(conversation_id, "service", "agent")
    assert await store.index.apply(entry_of(old)) is False
    await assert_index_exact(store.redis)


async def test_merging_two_customers_keeps_the_index_exact(world):
    service, clock, _ = world
    first = await service.ingest(sms("hi", "p-1", clock.now, "+15550000001"))
    clock.advance(minutes=1)
    second = await service.ingest(sms("hello", "p-2", clock.now, "+15550000002"))
    await service.link_identity(first.customer_id, Identity(Channel.SMS, "+15550000002"), author="agent")
    await assert_index_exact(service.store.redis)
    folded = await service.store.conversation(second.conversation_id)
    assert folded.extra.get("merged_into_conversation") == first.conversation_id
    listed = await every_page(service.store.index, Filter(), Order.ACTIVITY, limit=10)
    assert listed == [first.conversation_id]  # a folded conversation shows only when a status is asked
    resolved = await every_page(service.store.index, Filter(statuses=frozenset({"resolved"})), Order.ACTIVITY,
                                limit=10)
    assert resolved == [second.conversation_id]


async def test_conversations_without_a_running_clock_follow_every_deadline_longest_quiet_first(world):
    service, clock, rules = world
    store = service.store
    a = (await service.ingest(sms("a", "p-a", clock.now, "+15550000001"))).conversation_id
    clock.advance(minutes=5)
    b = (await service.ingest(sms("b", "p-b", clock.now, "+15550000002"))).conversation_id
    clock.advance(minutes=5)
    c = (await service.ingest(sms("c", "p-c", clock.now, "+15550000003"))).conversation_id
    await timers.arm(store, rules, c)
    page = await store.index.page(Filter(statuses=LIVE), Order.URGENCY, limit=10)
    assert [i for i, _ in page.items] == [c, a, b]
    assert page.items[1][1] >= NO_DEADLINE


def test_a_cursor_from_elsewhere_is_refused_clearly():
    with pytest.raises(InvalidRequest, match="not one this API returned"):
        Cursor.decode("not-a-cursor!", Order.ACTIVITY)
    cursor = Cursor(Order.URGENCY, 5, "cnv_x").encode()
    with pytest.raises(InvalidRequest, match="sort=urgency"):
        Cursor.decode(cursor, Order.ACTIVITY)
    assert Cursor.decode(cursor, Order.URGENCY) == Cursor(Order.URGENCY, 5, "cnv_x")


async def test_gateway_index_rebuild_indexes_data_stored_before_the_index(world, redis_url):
    service, clock, _ = world
    store = service.store
    for n in range(40):
        result = await service.ingest(replace(sms(f"hi {n}", f"p-{n}", clock.now, f"+1555{n:07d}"), name=f"Customer {n}"))
        if n % 2:
            await service.transfer(result.conversation_id, "service", "agent")
    # Data as an earlier version left it: no backlog index, no search terms, the old activity index.
    async for key in store.redis.scan_iter(match=f"{keys.INDEX_TAG}:*"):
        await store.redis.delete(key)
    await store.redis.delete(keys.SEARCH_TERMS)
    await store.redis.zadd(keys.LEGACY_CONVERSATIONS_INDEX, {"cnv_old": 1})
    # ... and a stray entry no conversation backs.
    await store.redis.zadd(keys.index_set("activity", "0123456789abcdef"), {"cnv_gone": 1})
    env = {**os.environ, "GATEWAY_REDIS_URL": redis_url, "GATEWAY_RULES_PATH": str(write_rules())}
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "index", "rebuild"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert (figures["indexed"], figures["removed"], figures["customers"]) == (40, 1, 40)
    assert await assert_index_exact(store.redis) == 40
    assert not await store.redis.exists(keys.LEGACY_CONVERSATIONS_INDEX)
    assert await store.search.find(["customer 7"], limit=5) != []
