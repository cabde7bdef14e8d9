"""A scripted day on a driven clock, and the exact report it gives.

Four conversations open on Monday 2 March 2026 between 09:00 and 17:00 UTC (the
support queue's SLA calendar is open 09:00-17:00 on weekdays), one more the next
day. Every figure below is worked out by hand in the comments.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from conversations.events import EventKind
from tests.reports.support import RULES, T0, csat_event, email, sms
from tests.support import wait_until
from tests.workers.support import Clock, fake_runtime, live_rules
from workers import report_store, timers
from workers.report_summary import Filters
from workers.sweeper import Sweeper


def at(hours: float = 0, minutes: float = 0):
    return T0 + timedelta(hours=hours, minutes=minutes)


def period(hours: float, **filters) -> Filters:
    return Filters(int(T0.timestamp() * 1000), int(at(hours).timestamp() * 1000), **filters)


async def scenario():
    clock = Clock(T0)
    runtime = await fake_runtime(clock, live_rules(RULES))
    return runtime, await play(runtime, clock)


async def play(runtime, clock: Clock) -> dict[str, str]:
    """The scripted day on ``runtime`` (any ``Services``), its service driven by ``clock``."""
    runtime.service.clock = clock
    service = runtime.service
    sweeper = Sweeper(runtime, clock=clock)

    def move(hours: float = 0, minutes: float = 0):
        clock.now = at(hours, minutes)
        return clock.now

    # A: support (SMS), answered after 10 min, resolved after 30, rated 5. First contact resolution.
    a = (await service.ingest(sms("the app crashes on start", "a1", move(), "+15550000001"))).conversation_id
    move(minutes=10)
    await service.reply(a, "Sorry! Update to 2.1 please.", "Grace")
    # D: support (SMS), never answered: first response warns at 80 % of 1 h and breaches; an agent escalates
    # it, another transfers it to service.
    move(minutes=20)
    d = (await service.ingest(sms("crashed again", "d1", clock.now, "+15550000004"))).conversation_id
    await timers.arm(runtime.store, runtime.rules.current, d)
    move(minutes=30)
    await service.resolve(a, "Grace")
    await csat_event(runtime, a, EventKind.CSAT_SENT, {})
    move(minutes=35)
    await csat_event(runtime, a, EventKind.CSAT_RATED, {"rating": "5", "comment": "quick"})
    # C: service (email), answered after 30 min, resolved, reopened by the customer, resolved again.
    move(minutes=40)
    c = (await service.ingest(email("how do I change my invoice address?", "<c1@x>", clock.now,
                                    "carla@example.com"))).conversation_id
    move(minutes=68)
    assert await sweeper.sweep_timers() == 1  # D's warning
    move(minutes=70)
    await service.reply(c, "Under Settings > Billing.", "Ada")
    move(minutes=80)
    assert await sweeper.sweep_timers() == 1  # D's breach
    move(minutes=90)
    await service.escalate(d, "Grace", "needs a developer")
    move(minutes=100)
    await service.resolve(c, "Ada")
    move(minutes=105)
    await service.transfer(d, "service", "Linus", "billing after all")
    move(minutes=160)
    reopened = await service.ingest(email("it does not save", "<c2@x>", clock.now, "carla@example.com"))
    assert (reopened.conversation_id, reopened.outcome) == (c, "reopened")
    move(minutes=170)
    await service.reply(c, "Fixed on our side, try again.", "Ada")
    move(minutes=180)
    await service.resolve(c, "Ada")
    await csat_event(runtime, c, EventKind.CSAT_SENT, {})
    # B: support (SMS) opens at 16:50, ten minutes before closing; answered at 09:10 the next day
    # (16 h 20 min on the wall clock, 20 business minutes), a second exchange, resolved at 09:20.
    move(hours=7, minutes=50)
    b = (await service.ingest(sms("error when I log in", "b1", clock.now, "+15550000002"))).conversation_id
    # E: the next day (outside a 12-hour period from T0).
    move(hours=24)
    e = (await service.ingest(email("what are your opening hours", "<e1@x>", clock.now,
                                    "erik@example.com"))).conversation_id
    move(hours=24, minutes=10)
    await service.reply(b, "Which version do you use?", "Grace")
    move(hours=24, minutes=15)
    await service.ingest(sms("2.0", "b2", clock.now, "+15550000002"))
    move(hours=24, minutes=18)
    await service.reply(b, "Update to 2.1 and it works.", "Grace")
    move(hours=24, minutes=20)
    await service.resolve(b, "Grace")
    await csat_event(runtime, b, EventKind.CSAT_SENT, {})
    await csat_event(runtime, b, EventKind.CSAT_RATED, {"rating": "3", "comment": ""})
    await report_store.catch_up(runtime.store, runtime.rules.current)  # what the sweeper does every pass
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


EXPECTED = {
    "conversations": 4,
    # A, B, C, D opened in the period; C was reopened. In: A 1, B 2, C 2, D 1; out: A 1, B 2, C 2.
    "volume": {"new": 4, "reopened": 1, "messages_in": 6, "messages_out": 5},
    # A 600 s, C 1800 s, B 58,800 s; business (support's calendar only): A 600, B 600 + 600.
    "first_response_seconds": {"median": 1800, "p90": 58800, "count": 3,
                               "business_median": 900, "business_p90": 1200, "business_count": 2},
    # A 1800 s, C 09:40 → 12:00 = 8400 s, B 16:50 → 09:20 = 59,400 s; business A 1800, B 600 + 1200.
    "resolution_seconds": {"median": 8400, "p90": 59400, "count": 3,
                           "business_median": 1800, "business_p90": 1800, "business_count": 2},
    "resolved": 3,
    "first_contact_resolved": 1,  # A; C was reopened, B had two agent replies
    "fcr_rate": 0.3333,
    # Every conversation runs first response and resolution (support 1 h / 1 d, service 4 h / 2 d):
    # D breached first response. Overall: 8 clocks, 1 breached.
    "sla": {"warnings": 1, "breaches": 1, "compliance": 0.875, "clocks": {
        "first_response": {"warnings": 1, "breaches": 1, "conversations": 4, "compliance": 0.75},
        "next_response": {"warnings": 0, "breaches": 0, "conversations": 0, "compliance": None},
        "resolution": {"warnings": 0, "breaches": 0, "conversations": 4, "compliance": 1.0},
    }},
    "escalations": 1,
    "transfers": 1,
    "csat": {"average": 4.0, "responses": 2, "sent": 3, "response_rate": 0.6667},
}


async def test_the_summary_of_a_scripted_day_is_exact():
    runtime, ids = await scenario()
    summary = await report_store.summary(runtime.redis, period(12))
    assert summary == EXPECTED


async def test_filters_by_queue_channel_and_tier_and_the_period_by_when_conversations_opened():
    runtime, ids = await scenario()
    support = await report_store.summary(runtime.redis, period(12, queue="support"))
    # A and B (D was transferred to service): FRT 600 and 58,800; both first-contact? B had two replies.
    assert support["volume"] == {"new": 2, "reopened": 0, "messages_in": 3, "messages_out": 3}
    assert support["first_response_seconds"]["median"] == (600 + 58800) / 2
    assert support["fcr_rate"] == 0.5 and support["csat"]["average"] == 4.0
    service = await report_store.summary(runtime.redis, period(12, queue="service"))
    assert service["volume"]["new"] == 2 and service["escalations"] == 1 and service["transfers"] == 1
    mail = await report_store.summary(runtime.redis, period(12, channel="email"))
    assert mail["volume"]["new"] == 1 and mail["volume"]["reopened"] == 1
    two_days = await report_store.summary(runtime.redis, period(48, channel="email"))
    assert two_days["volume"]["new"] == 2  # E opened on Tuesday
    tier2 = await report_store.summary(runtime.redis, period(12, tier=2))
    assert tier2["volume"]["new"] == 0  # D went back to tier 1 with its transfer
    grouped = await report_store.summary(runtime.redis, period(12), "queue")
    assert sorted(grouped["groups"]) == ["service", "support"]
    assert grouped["groups"]["support"] == support


async def test_recomputing_and_redelivering_give_the_same_numbers():
    runtime, ids = await scenario()
    before = await report_store.summary(runtime.redis, period(48))
    # A webhook retried: the store drops the duplicate, the figures do not move.
    duplicate = await runtime.service.ingest(sms("the app crashes on start", "a1", T0, "+15550000001"))
    assert duplicate.duplicate
    # Every conversation recorded again (as a redelivered event would), and a full rebuild.
    for conversation_id in ids.values():
        await report_store.record(runtime.store, runtime.rules.current, conversation_id)
    assert await report_store.summary(runtime.redis, period(48)) == before
    for key in await runtime.redis.keys("gw:{report}:*"):
        await runtime.redis.delete(key)
    assert await report_store.rebuild(runtime.store, runtime.rules.current, ids.values()) == 5
    assert await report_store.summary(runtime.redis, period(48)) == before


async def test_an_older_snapshot_never_overwrites_a_newer_row():
    runtime, ids = await scenario()
    facts = await report_store.facts_of(runtime.store, runtime.rules.current, ids["c"])
    stale = facts.__class__(**{**{f: getattr(facts, f) for f in facts.__slots__}, "stamp": "1-0", "messages_in": 99})
    bucket = report_store.bucket_key(report_store.hour_of(facts.opened_ms))
    stored = await runtime.redis.eval(report_store._RECORD, 4, bucket, report_store.HOURS, report_store.VERSIONS,
                                      report_store.STALE, ids["c"], stale.stamp, stale.row(), "0")
    assert stored == 0
    assert (await report_store.summary(runtime.redis, period(12)))["volume"]["messages_in"] == 6


async def test_timeseries_per_hour_use_the_same_figures():
    runtime, ids = await scenario()
    points = await report_store.series(runtime.redis, period(12), "volume.new", 3_600_000)
    assert [value for _, value in points] == [3, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    frt = await report_store.series(runtime.redis, period(12), "first_response_seconds.median", 3_600_000)
    assert frt[0][1] == 1200 and frt[7][1] == 58800  # A 600 and C 1800 in the first hour; B at 16:50


async def test_cached_hours_follow_every_change_and_partial_hours_give_the_same_figures():
    runtime, ids = await scenario()
    assert await report_store.summary(runtime.redis, period(12)) == EXPECTED  # caches every hour's aggregate
    # A period not on hour boundaries reads the edge hours' rows instead: the same figures.
    shifted = Filters(int((T0 - timedelta(minutes=30)).timestamp() * 1000), int(at(12, 30).timestamp() * 1000))
    assert await report_store.summary(runtime.redis, shifted) == EXPECTED
    # A late reply to D (opened 09:20) changes its hour: the cached aggregate is recomputed.
    await runtime.service.reply(ids["d"], "Sorry for the wait.", "Linus")
    assert await runtime.redis.zscore(report_store.DIRTY, ids["d"])  # marked, not yet recorded
    await report_store.catch_up(runtime.store, runtime.rules.current)  # as the API does before it reads
    after = await report_store.summary(runtime.redis, period(12))
    assert after["volume"]["messages_out"] == 6 and after["first_response_seconds"]["count"] == 4


async def test_the_sweeper_warms_the_hours_that_changed():
    runtime, ids = await scenario()
    hours = [int(h) for h in await runtime.redis.zrange(report_store.HOURS, 0, -1)]
    assert await report_store.warm(runtime.redis) == len(hours) == 3  # 09:00, 16:00 and Tuesday 09:00
    assert await report_store.warm(runtime.redis) == 0
    versions = await runtime.redis.hgetall(report_store.VERSIONS)
    for hour in hours:  # every aggregate cached at its hour's current version
        cached = report_store.decode_hour(await runtime.redis.get(report_store.aggregate_key(hour)))
        assert cached.version == versions[str(hour)]
    assert await report_store.summary(runtime.redis, period(12)) == EXPECTED
    await runtime.service.reply(ids["d"], "Sorry for the wait.", "Linus")  # D opened in the 09:00 hour
    assert await report_store.record_marked(runtime.store, runtime.rules.current) == 1
    assert await report_store.warm(runtime.redis) == 1
    assert await runtime.redis.zcard(report_store.DIRTY) == 0


async def test_the_running_sweeper_warms_report_hours():
    runtime, ids = await scenario()
    assert await runtime.redis.scard(report_store.STALE) == 3
    stop = asyncio.Event()
    task = asyncio.create_task(Sweeper(runtime).run(0.05, stop))
    try:
        await wait_until(lambda: _none_stale(runtime), what="the sweeper to warm the report hours")
    finally:
        stop.set()
        await task
    assert await runtime.redis.get(report_store.aggregate_key(report_store.hour_of(int(T0.timestamp() * 1000))))


async def _none_stale(runtime) -> bool:
    return await runtime.redis.scard(report_store.STALE) == 0
