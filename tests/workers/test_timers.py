"""SLA timers on a driven clock: arm, warn, breach, escalate, each once; stale timers do nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from conversations.events import EventKind
from conversations.service import PENDING_ESCALATION
from tests.workers.support import Clock, fake_runtime, live_rules, sms, timeline_kinds
from workers import keys, metrics, timers
from workers.sweeper import Sweeper


async def start(clock: Clock, rules=None):
    runtime = await fake_runtime(clock, rules)
    seen: list = []

    async def record(event):
        seen.append(event)

    runtime.events.subscribe(record)
    result = await runtime.service.ingest(sms("the app crashes on start", "p1", clock.now))
    await timers.arm(runtime.store, runtime.rules.current, result.conversation_id)
    return runtime, result.conversation_id, seen, Sweeper(runtime, clock=clock)


async def test_unanswered_conversation_warns_breaches_and_escalates_to_tier_2_once():
    clock = Clock()
    runtime, conversation_id, seen, sweeper = await start(clock)
    conversation = await runtime.store.conversation(conversation_id)
    assert conversation.queue == "support" and conversation.tier == 1
    assert conversation.extra["sla_first_response_due"] == str(int((clock.now.timestamp() + 60) * 1000))
    assert conversation.extra["sla_first_response_warning_due"] == str(int((clock.now.timestamp() + 48) * 1000))

    clock.advance(seconds=47)
    assert await sweeper.sweep_timers() == 0
    clock.advance(seconds=1)  # 80% of one minute
    assert await sweeper.sweep_timers() == 1
    assert await sweeper.sweep_timers() == 0
    assert await timeline_kinds(runtime, conversation_id) == ["routed", "sla_warning"]

    clock.advance(seconds=12)
    assert await sweeper.sweep_timers() == 1
    for _ in range(3):
        clock.advance(seconds=1)
        assert await sweeper.sweep_timers() == 0
    after = await runtime.store.conversation(conversation_id)
    assert after.tier == 2 and after.queue == "support"
    assert PENDING_ESCALATION not in after.extra
    assert await timeline_kinds(runtime, conversation_id) == ["routed", "sla_warning", "sla_breach", "escalated"]
    assert [e.kind for e in seen if e.kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACH, EventKind.ESCALATED)] == [
        EventKind.SLA_WARNING, EventKind.SLA_BREACH, EventKind.ESCALATED]
    escalated = [m for m in await runtime.store.messages(conversation_id) if m.kind == "escalated"][0]
    assert escalated.meta["reason"] == "SLA first response breach" and escalated.meta["by"] == "sla"
    raw = await runtime.redis.hgetall(metrics.METRICS)
    assert raw["warnings|support|first_response"] == "1" and raw["breaches|support|first_response"] == "1"


async def test_escalation_restarts_first_response_for_the_next_tier():
    clock = Clock()
    runtime, conversation_id, _, sweeper = await start(clock)
    clock.advance(seconds=60)
    await sweeper.sweep_timers()
    await timers.arm(runtime.store, runtime.rules.current, conversation_id)  # what the ESCALATED job does
    conversation = await runtime.store.conversation(conversation_id)
    assert conversation.extra["sla_first_response_due"] == str(int((clock.now.timestamp() + 60) * 1000))
    clock.advance(seconds=60)
    assert await sweeper.sweep_timers() == 2  # tier 2's warning and breach
    assert (await runtime.store.conversation(conversation_id)).tier == 3


async def test_answered_conversation_does_not_warn_or_breach():
    clock = Clock()
    runtime, conversation_id, seen, sweeper = await start(clock)
    clock.advance(seconds=30)
    await runtime.service.reply(conversation_id, "Looking into it", author="agent")
    await timers.arm(runtime.store, runtime.rules.current, conversation_id)
    assert "sla_first_response_due" not in (await runtime.store.conversation(conversation_id)).extra
    clock.advance(minutes=30)
    assert await sweeper.sweep_timers() == 0
    kinds = await timeline_kinds(runtime, conversation_id)
    assert "sla_warning" not in kinds and "sla_breach" not in kinds and "escalated" not in kinds
    assert await runtime.redis.zcard(keys.TIMERS) == 0


async def test_a_stale_timer_does_nothing_even_if_its_index_entry_survived():
    clock = Clock()
    runtime, conversation_id, _, sweeper = await start(clock)
    old = [m for m in await runtime.redis.zrange(keys.TIMERS, 0, -1)]
    clock.advance(seconds=30)
    await runtime.service.reply(conversation_id, "On it", author="agent")
    await timers.arm(runtime.store, runtime.rules.current, conversation_id)
    # As if the arming process died before removing the old members:
    await runtime.redis.zadd(keys.TIMERS, {member: 0 for member in old})
    clock.advance(minutes=5)
    assert await sweeper.sweep_timers() == 0
    assert await runtime.redis.zcard(keys.TIMERS) == 0
    assert "sla_breach" not in await timeline_kinds(runtime, conversation_id)


async def test_an_agent_reply_just_before_the_deadline_wins_even_before_rearming():
    clock = Clock()
    runtime, conversation_id, _, sweeper = await start(clock)
    clock.advance(seconds=59)
    await runtime.service.reply(conversation_id, "Here!", author="agent")  # its rearm job has not run yet
    clock.advance(seconds=5)
    assert await sweeper.sweep_timers() == 0
    assert "sla_breach" not in await timeline_kinds(runtime, conversation_id)


async def test_a_sweeper_that_died_after_claiming_is_replaced_and_the_timer_fires_once():
    clock = Clock()
    runtime, conversation_id, _, sweeper = await start(clock)
    clock.advance(seconds=48)
    assert len(await sweeper.claim(clock.now)) == 1  # claimed, then the sweeper "died"
    other = Sweeper(runtime, clock=clock)
    assert await other.sweep_timers() == 0  # leased: not yet
    clock.advance(seconds=31)  # the 10 s lease lapsed (the breach is due too by now)
    assert await other.sweep_timers() == 2
    assert await timeline_kinds(runtime, conversation_id) == ["routed", "sla_warning", "sla_breach", "escalated"]


async def test_a_crash_between_breach_and_escalation_escalates_once_on_the_next_firing():
    clock = Clock()
    runtime, conversation_id, _, sweeper = await start(clock)
    clock.advance(seconds=60)
    due = int(clock.now.timestamp() * 1000)
    conversation = await runtime.store.conversation(conversation_id)
    generation = int(conversation.extra[timers.GENERATION])
    # The state a sweeper leaves when it dies right after the breach's write: fired, escalation pending.
    await runtime.store.set_conversation_fields(conversation_id, {
        "sla_first_response_breach_fired": str(due), "sla_first_response_warning_fired": str(due - 12_000),
        PENDING_ESCALATION: f"first_response.breach@{due}"})
    ref = timers.TimerRef(conversation_id, "first_response", "breach", generation)
    assert await timers.fire(runtime, ref, clock.now) == "already"  # and finishes the escalation
    assert await timers.fire(runtime, ref, clock.now) == "stale"  # the clock restarted for tier 2
    after = await runtime.store.conversation(conversation_id)
    assert after.tier == 2 and PENDING_ESCALATION not in after.extra
    assert (await timeline_kinds(runtime, conversation_id)).count("escalated") == 1


async def test_the_last_tier_alerts_instead_of_escalating():
    clock = Clock()
    runtime, conversation_id, seen, sweeper = await start(clock)
    for _ in range(2):  # tier 1 -> 2 -> 3
        clock.advance(seconds=60)
        await sweeper.sweep_timers()
        await timers.arm(runtime.store, runtime.rules.current, conversation_id)
    assert (await runtime.store.conversation(conversation_id)).tier == 3
    clock.advance(seconds=60)
    await sweeper.sweep_timers()
    assert (await runtime.store.conversation(conversation_id)).tier == 3
    kinds = await timeline_kinds(runtime, conversation_id)
    assert kinds.count("sla_alert") == 1 and kinds.count("escalated") == 2
    breach = [e for e in seen if e.kind == EventKind.SLA_BREACH][-1]
    assert breach.detail["alert"] == "1" and breach.detail["alert_channel"] == "#support-oncall"


async def test_transfer_switches_the_policy_and_the_deadlines():
    clock = Clock()
    runtime, conversation_id, _, sweeper = await start(clock)
    await runtime.service.transfer(conversation_id, "service", author="agent", reason="billing question")
    await timers.arm(runtime.store, runtime.rules.current, conversation_id)
    conversation = await runtime.store.conversation(conversation_id)
    assert conversation.sla_policy == "relaxed"
    assert conversation.extra["sla_first_response_due"] == str(int((clock.now.timestamp() + 3600) * 1000))
    clock.advance(minutes=5)
    assert await sweeper.sweep_timers() == 0


async def test_an_agent_escalate_takes_the_rule_files_step_and_restarts_the_clock():
    clock = Clock()
    runtime, conversation_id, _, _ = await start(clock)
    clock.advance(seconds=20)
    after = await runtime.service.escalate(conversation_id, "alice", "needs a specialist")
    assert after.tier == 2
    assert after.extra["sla_first_response_restarted_at"] == str(int(clock.now.timestamp() * 1000))


async def test_events_mark_the_conversation_and_the_sweeper_arms_it_and_counts_escalations():
    clock = Clock()
    runtime, conversation_id, _, sweeper = await start(clock, live_rules())
    assert await runtime.redis.zscore(keys.TIMERS_DIRTY, conversation_id) is not None  # ingested, routed
    await runtime.redis.delete(keys.TIMERS)  # as if never armed
    await runtime.store.set_conversation_fields(conversation_id, {"sla_first_response_due": "1"})
    clock.now = datetime.now(UTC)  # the marks carry wall-clock times
    assert await sweeper.arm_marked() == 1
    assert await runtime.redis.zcard(keys.TIMERS_DIRTY) == 0 and await runtime.redis.zcard(keys.TIMERS) == 4
    await runtime.service.escalate(conversation_id, "alice", "needs a specialist")
    assert (await runtime.redis.hgetall(metrics.METRICS))["escalations|agent"] == "1"
