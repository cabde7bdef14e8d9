"""Arming a batch (the sweeper's path) leaves every conversation exactly as arming it alone does.

On a real redis-server: the same conversations are armed one by one (``timers.arm``), their
state is put back, and they are armed as one batch (``Sweeper.arm_marked``); the deadline
fields, the generation, the ``gw:timers`` members with their scores and the backlog index
must be the same. The conversations cover every clock and what moves it: first response,
next response, resolution paused while pending, resolved, reopened, escalated (a restart),
transferred to another policy, an automatic reply, a business-hours calendar, unrouted.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from conversations import batch
from conversations import keys as core_keys
from conversations.errors import Conflict, InvalidRequest
from gateway.runtime import build_services
from router import LiveRules
from tests.conftest import make_settings
from tests.workers.support import RULES_YAML, Clock, fake_runtime, sms, write_rules
from workers import keys, timers
from workers.sweeper import Sweeper

RULES = RULES_YAML.replace("""  relaxed:
    first_response: 1h
    resolution: 1d
""", """  relaxed:
    first_response: 1h
    next_response: 2h
    resolution: 1d
    calendar: office
    pause_while_pending: false
calendars:
  office:
    timezone: Europe/Berlin
    hours: {weekdays: "08:00-18:00", weekend: closed}
""")


@pytest.fixture
async def runtime(redis_url):
    redis = Redis.from_url(redis_url, decode_responses=True)
    clock = Clock()
    runtime = build_services(make_settings(redis_url=redis_url), redis, SyncRedis.from_url(redis_url),
                             LiveRules(write_rules(RULES)))
    runtime.service.clock = clock
    yield runtime, clock
    await runtime.close()
    await redis.aclose()


async def scenario(runtime, clock: Clock) -> list[str]:
    """Conversations in every state the clocks know; returns their ids."""
    service = runtime.service
    ids = []

    async def open_(n: int) -> str:
        result = await service.ingest(sms(f"help {n}", f"p-{n}", clock.now, f"+1555000{n:04d}"))
        ids.append(result.conversation_id)
        return result.conversation_id

    await open_(0)  # unanswered: first response and resolution running
    answered = await open_(1)
    clock.advance(seconds=20)
    await service.reply(answered, "on it", author="alice")  # first response met; resolution paused (pending)
    waiting = await open_(2)
    clock.advance(seconds=10)
    await service.reply(waiting, "which app?", author="alice")
    clock.advance(seconds=30)
    await service.ingest(sms("the mobile one", "p-2b", clock.now, "+15550000002"))  # next response runs
    resolved = await open_(3)
    await service.resolve(resolved, "alice")
    reopened = await open_(4)
    clock.advance(seconds=5)
    await service.resolve(reopened, "alice")
    clock.advance(minutes=3)
    await service.reopen(reopened, "alice")  # resolution counts the open stretches only
    escalated = await open_(5)
    clock.advance(seconds=15)
    await service.escalate(escalated, "alice", "needs a specialist")  # first response restarts for tier 2
    moved = await open_(6)
    await service.transfer(moved, "service", author="alice")  # relaxed policy, office calendar
    clock.advance(minutes=10)
    await service.reply(moved, "we are looking", author="alice")
    clock.advance(minutes=1)
    await service.ingest(sms("any news?", "p-6b", clock.now, "+15550000006"))  # next response, business hours
    auto = await open_(7)
    await service.reply(auto, "we got your message", author="bot", automatic=True)  # does not stop the clock
    for n in range(8, 40):  # more of the plain kind, answered every third
        conversation_id = await open_(n)
        clock.advance(seconds=n)
        if n % 3 == 0:
            await service.reply(conversation_id, "hello", author="bob")
    return ids


async def armed_state(runtime, ids: list[str]) -> dict:
    """What arming decides, per conversation: SLA fields, its gw:timers members and its index entry."""
    redis = runtime.redis
    members = dict(await redis.zrange(keys.TIMERS, 0, -1, withscores=True))
    state = {}
    for conversation_id in ids:
        conversation = await runtime.store.conversation(conversation_id)
        sla = {k: v for k, v in conversation.extra.items() if k.startswith("sla_") and not k.endswith("_fired")}
        mine = {m: s for m, s in members.items() if m.startswith(f"{conversation_id}|")}
        index = await redis.hget(core_keys.INDEX_STATE, conversation_id)
        state[conversation_id] = (sla, mine, index.split("|", 1)[1] if index else None)
    urgency = {}
    for bucket in await runtime.store.index.buckets():
        urgency.update(dict(await redis.zrange(core_keys.index_set("urgency", bucket.id), 0, -1, withscores=True)))
    return {"conversations": state, "urgency": urgency, "members": len(members),
            "intents": await redis.zcard(core_keys.INDEX_INTENTS)}


async def hashes(runtime, ids: list[str]) -> dict[str, dict[str, str]]:
    saved = {}
    for conversation_id in ids:
        conversation = await runtime.store.conversation(conversation_id)
        key = core_keys.CustomerKeys(conversation.customer_id).conversation(conversation_id)
        saved[key] = await runtime.redis.hgetall(key)
    return saved


async def restore(runtime, saved: dict[str, dict[str, str]], timers_before: dict[str, float]) -> None:
    """Put the hashes and gw:timers back as they were before arming."""
    for key, fields in saved.items():
        await runtime.redis.delete(key)
        await runtime.redis.hset(key, mapping=fields)
    await runtime.redis.delete(keys.TIMERS)
    if timers_before:
        await runtime.redis.zadd(keys.TIMERS, timers_before)


async def arm_both_ways(runtime, clock: Clock, ids: list[str]) -> tuple[dict, dict]:
    saved = await hashes(runtime, ids)
    timers_before = dict(await runtime.redis.zrange(keys.TIMERS, 0, -1, withscores=True))
    changed_alone = [await timers.arm(runtime.store, runtime.rules.current, c) for c in ids]
    alone = await armed_state(runtime, ids)
    await restore(runtime, saved, timers_before)
    await runtime.redis.zadd(keys.TIMERS_DIRTY, {c: 0 for c in ids})
    sweeper = Sweeper(runtime, batch=16, clock=clock)  # several batches, the last one partial
    assert await sweeper.arm_marked() == len(ids)
    assert await runtime.redis.zcard(keys.TIMERS_DIRTY) == 0
    together = await armed_state(runtime, ids)
    assert any(changed_alone)
    return alone, together


async def test_a_batch_arms_every_conversation_as_arming_it_alone_does(runtime):
    runtime, clock = runtime
    ids = await scenario(runtime, clock)
    await runtime.redis.delete(keys.TIMERS_DIRTY)
    alone, together = await arm_both_ways(runtime, clock, ids)
    assert together == alone
    states = alone["conversations"]
    assert "sla_first_response_due" in states[ids[0]][0]  # the scenario reached the states it means to
    assert "sla_next_response_due" in states[ids[2]][0]
    assert "sla_resolution_due" not in states[ids[3]][0] and states[ids[3]][1] == {}
    assert "sla_first_response_restarted_at" in states[ids[5]][0]
    assert "sla_next_response_due" in states[ids[6]][0]
    assert "sla_first_response_due" in states[ids[7]][0]
    assert alone["intents"] == 0

    # Events move deadlines of armed conversations: re-arming replaces generations the same way too.
    clock.advance(minutes=2)
    await runtime.service.reply(ids[0], "sorry for the wait", author="alice")
    await runtime.service.ingest(sms("still there?", "p-1c", clock.now, "+15550000001"))
    await runtime.service.resolve(ids[2], "alice")
    await runtime.service.transfer(ids[8], "service", author="alice")
    try:
        await runtime.service.escalate(ids[5], "alice", "again")
    except (Conflict, InvalidRequest):
        pass
    await runtime.redis.delete(keys.TIMERS_DIRTY)
    alone, together = await arm_both_ways(runtime, clock, ids)
    assert together == alone
    generations = {c: s[0].get(timers.GENERATION) for c, s in alone["conversations"].items()}
    assert generations[ids[0]] == "2" and generations[ids[2]] == "2"
    assert not any(m.split("|")[3] == "1" for c in (ids[0], ids[2]) for m in alone["conversations"][c][1])


async def test_a_conversation_changed_between_read_and_write_is_armed_on_its_own(runtime):
    """The batch write refuses a conversation whose hash or timeline moved since it was read."""
    runtime, clock = runtime
    ids = await scenario(runtime, clock)
    rules = runtime.rules.current
    snapshots = await batch.read_many(runtime.redis, ids[:3], lambda c: True)
    clock.advance(seconds=5)
    await runtime.service.reply(ids[0], "here", author="alice")  # after the read, before the write
    plans = {c: timers.arming_of(rules, s.conversation, s.timeline or []) for c, s in snapshots.items()}
    writes = [batch.FieldWrite(snapshots[c], plan.fields, plan.delete_fields) for c, plan in plans.items() if plan]
    outcomes = await batch.write_many(runtime.redis, runtime.store.index, writes)
    assert ids[1] not in outcomes  # answered and pending: nothing to arm, nothing written
    assert outcomes[ids[0]] == batch.CHANGED and outcomes[ids[2]] == batch.WRITTEN
    assert "sla_first_response_due" not in (await runtime.store.conversation(ids[0])).extra
    assert await runtime.redis.zcard(core_keys.INDEX_INTENTS) == 0

    await runtime.redis.zadd(keys.TIMERS_DIRTY, {c: 0 for c in ids[:3]})
    assert await Sweeper(runtime, clock=clock).arm_marked() == 3
    conversation = await runtime.store.conversation(ids[0])
    assert not [k for k in conversation.extra if k.endswith("_due")]  # answered, pending: every clock stopped
    assert not await timers.arm(runtime.store, rules, ids[0])  # the batch left what arming alone would


async def test_arming_stops_on_its_budget_and_says_marks_are_left():
    """The loop arms a budget's worth of batches between firings, and comes back at once for the rest."""
    clock = Clock()
    runtime = await fake_runtime(clock)
    for n in range(25):
        await runtime.service.ingest(sms(f"help {n}", f"p-{n}", clock.now, f"+1555100{n:04d}"))
    assert await runtime.redis.zcard(keys.TIMERS_DIRTY) == 25
    clock.now = datetime.now(UTC)  # the marks carry wall-clock times
    sweeper = Sweeper(runtime, batch=10, clock=clock)
    assert await sweeper.arm_marked(budget_seconds=0) == 10 and sweeper.arming_left
    assert await runtime.redis.zcard(keys.TIMERS_DIRTY) == 15
    assert await sweeper.arm_marked(budget_seconds=60) == 15 and not sweeper.arming_left
    assert await runtime.redis.zcard(keys.TIMERS) == 25 * 4


async def test_a_conversation_that_cannot_be_read_stays_marked_and_the_rest_of_its_batch_is_armed(runtime, caplog):
    runtime, clock = runtime
    ids = await scenario(runtime, clock)
    broken = ids[9]
    conversation = await runtime.store.conversation(broken)
    await runtime.redis.delete(keys.TIMERS_DIRTY, keys.TIMERS)
    await runtime.redis.set(core_keys.CustomerKeys(conversation.customer_id).messages(broken), "not a stream")
    await runtime.redis.zadd(keys.TIMERS_DIRTY, {c: 0 for c in ids})
    sweeper = Sweeper(runtime, clock=clock)
    assert await sweeper.arm_marked() == len(ids)
    assert await runtime.redis.zrange(keys.TIMERS_DIRTY, 0, -1) == [broken]
    assert "arming %s failed" % broken in caplog.text
    armed = {m.split("|")[0] for m in await runtime.redis.zrange(keys.TIMERS, 0, -1)}
    assert ids[0] in armed and ids[10] in armed and broken not in armed


async def test_a_batch_fires_timers_as_firing_them_one_by_one_does(runtime):
    """Two identical sets of conversations: one fired by ``timers.fire`` timer by timer, the other
    by the sweeper's batch; the fired marks, timeline entries, events and escalations match."""
    runtime, clock = runtime
    seen: list = []

    async def record(event):
        seen.append(event)

    runtime.events.subscribe(record)
    sets: dict[str, list[str]] = {"alone": [], "batch": []}
    for n in range(8):
        for name, prefix in (("alone", "+1555200"), ("batch", "+1555300")):
            result = await runtime.service.ingest(sms(f"help {n}", f"{name}-{n}", clock.now, f"{prefix}{n:04d}"))
            sets[name].append(result.conversation_id)
    for name in sets:
        await runtime.service.reply(sets[name][1], "on it", author="alice")  # answered: nothing fires
        await runtime.service.transfer(sets[name][2], "service", author="alice")  # last tier: an alert
        await runtime.redis.zadd(keys.TIMERS_DIRTY, {c: 0 for c in sets[name]})
    assert await Sweeper(runtime, clock=clock).arm_marked() == 16
    members = await runtime.redis.zrange(keys.TIMERS, 0, -1)

    async def fire_alone(until_ms: int) -> None:
        due = [m for m in await runtime.redis.zrangebyscore(keys.TIMERS, "-inf", until_ms)
               if m.split("|")[0] in sets["alone"]]
        for member in sorted(due, key=lambda m: ("|breach|" in m, m)):
            await timers.fire(runtime, timers.TimerRef.parse(member), clock.now)
            await runtime.redis.zrem(keys.TIMERS, member)

    for step in (48, 12, 60 * 60 * 2):  # warnings; breaches (escalations); the relaxed policy's both at once
        clock.advance(seconds=step)
        await fire_alone(int(clock.now.timestamp() * 1000))
        await Sweeper(runtime, clock=clock).sweep_timers()
        for name in sets:  # the escalated conversations are re-armed, as the ESCALATED event marks them
            await runtime.redis.zadd(keys.TIMERS_DIRTY, {c: 0 for c in sets[name]})
        await Sweeper(runtime, clock=clock).arm_marked()
    assert members

    async def outcome(conversation_id: str) -> tuple:
        conversation = await runtime.store.conversation(conversation_id)
        fields = {k: v for k, v in conversation.extra.items() if k.endswith("_fired") or k.endswith("_due")}
        entries = [(m.kind, m.text, m.created_at, tuple(sorted(m.meta.items())))
                   for m in await runtime.store.messages(conversation_id) if m.kind]
        events = [(e.kind, tuple(sorted(e.detail.items()))) for e in seen if e.conversation_id == conversation_id
                  and e.kind.value.startswith(("sla_warning", "sla_breach", "escalated"))]
        return conversation.tier, fields, entries, events

    alone = [await outcome(c) for c in sets["alone"]]
    batch_ = [await outcome(c) for c in sets["batch"]]
    assert batch_ == alone
    kinds = [entry[0] for entry in alone[0][2]]
    assert kinds.count("sla_warning") >= 1 and "escalated" in kinds
    assert any("sla_alert" in [entry[0] for entry in o[2]] for o in alone)
    assert not [e for e in alone[1][2] if e[0].startswith("sla_")]


async def test_the_sweeper_sleeps_until_the_next_timer_is_due_at_most_an_interval():
    clock = Clock()
    runtime = await fake_runtime(clock)
    sweeper = Sweeper(runtime, clock=clock)
    assert await sweeper.until_next_due(0.5) == 0.5  # nothing armed
    now_ms = int(clock.now.timestamp() * 1000)
    await runtime.redis.zadd(keys.TIMERS, {"cnv_x|first_response|warning|1": now_ms + 120})
    assert await sweeper.until_next_due(0.5) == pytest.approx(0.12)
    await runtime.redis.zadd(keys.TIMERS, {"cnv_y|first_response|warning|1": now_ms - 5})
    assert 0 < await sweeper.until_next_due(0.5) <= 0.01  # one is due already: right away
    await runtime.redis.delete(keys.TIMERS)
    await runtime.redis.zadd(keys.TIMERS, {"cnv_z|resolution|breach|1": now_ms + 3_600_000})
    assert await sweeper.until_next_due(0.5) == 0.5
