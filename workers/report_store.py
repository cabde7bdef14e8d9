"""The reports' pre-aggregation in Redis: a row per conversation, and a cached aggregate per hour.

Layout (docs/REPORTS.md); every key carries the hash tag ``{report}``, so the
script and the multi-key reads stay in one Redis Cluster slot:
- ``gw:{report}:hour:<epoch hour>``: hash, conversation id → its ``Facts`` row (JSON array), in the
  hour the conversation opened.
- ``gw:{report}:hours``: zset, epoch hour → epoch hour: the buckets that exist.
- ``gw:{report}:version``: hash, epoch hour → a counter bumped by every row change in that hour.
- ``gw:{report}:agg:<epoch hour>``: string, the hour's aggregate per queue|tier|channel and the
  version it was computed at; recomputed from the hour's rows when the version moved.
- ``gw:{report}:stale``: set, hours whose rows changed since the sweeper last recomputed their
  aggregate (``warm``), so summaries find them cached.
- ``gw:{report}:dirty``: zset, conversation id → how many changes marked it: conversations whose
  row is to be recomputed (a count, not a time: any mark after a read moves it).

An event that can change a figure only *marks* its conversation (one ``ZADD``; a
stored message's mark rides the message's own round trip, ``dirty_mark``). The
sweeper records the marked conversations every pass, and a summary or series
records what is still marked before it reads, so every answer includes every
event before it. Recording a conversation reads its hash and timeline in one
atomic step, computes the row and stores it with a script that keeps the row
computed from the newest timeline: two processes recording the same
conversation at once never leave the older state behind. A mark is removed only
if no event moved it meanwhile. Recording was first done inside each event, on
the request's path: it read the whole timeline after every message and was
most of an ingest's time (docs/PERFORMANCE.md). Recording is idempotent, and
``rebuild`` recomputes any period from the stored facts.
A summary reads the cached aggregates of the whole hours of its period (and the
rows of the partial hours at its edges), so its cost grows with hours, not
conversations.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from conversations import atomic, batch, codec, redisio
from conversations.errors import NotFound
from conversations.events import ConversationEvent, EventKind, Listener
from conversations.store import ConversationStore
from router import RuleSet
from workers import keys
from workers.report_facts import Facts, compute
from workers.report_summary import Collector, Filters, HourGroups, by_group, decode_hour, encode_hour, pick

__all__ = ["DIRTY", "HOURS", "STALE", "VERSIONS", "aggregate_key", "bucket_key", "catch_up", "collect", "decode_hour",
           "dirty_mark", "facts_of", "hour_groups", "listener", "rebuild", "record", "record_marked", "series",
           "summary", "warm"]

log = logging.getLogger("gateway.reports")

PREFIX = keys.REPORT_TAG
HOURS = keys.REPORT_HOURS
VERSIONS = keys.REPORT_VERSIONS
STALE = keys.REPORT_STALE
DIRTY = keys.REPORT_DIRTY
RECORD_BATCH = 500  # marked conversations recorded per call of ``record_marked``
RECORD_CONCURRENCY = 16  # of those, recorded at once (each is two round trips)
CATCH_UP_MOST = 5_000  # a report records at most this many marks before it reads; the sweeper keeps up
HOUR_MS = 3_600_000
# Events after which a conversation's figures may have changed (deliveries, notes and
# assignments change none of them).
RECORDING_EVENTS = frozenset({
    EventKind.INGESTED, EventKind.ROUTED, EventKind.REPLIED, EventKind.TRANSFERRED, EventKind.ESCALATED,
    EventKind.RESOLVED, EventKind.REOPENED, EventKind.MERGED, EventKind.SLA_WARNING, EventKind.SLA_BREACH,
    EventKind.CSAT_SENT, EventKind.CSAT_RATED,
})

# KEYS: bucket, hours index, versions, stale hours. ARGV: conversation id, stamp ("<ms>-<seq>"), row, hour.
# A row already stored from a later timeline entry stays; an equal one is rewritten (same content).
_RECORD = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local ms, seq = string.match(current, '^%["(%d+)%-(%d+)"')
  local new_ms, new_seq = string.match(ARGV[2], '^(%d+)%-(%d+)$')
  if ms and new_ms then
    ms, seq, new_ms, new_seq = tonumber(ms), tonumber(seq), tonumber(new_ms), tonumber(new_seq)
    if ms > new_ms or (ms == new_ms and seq > new_seq) then return 0 end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[4])
redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
redis.call('SADD', KEYS[4], ARGV[4])
return 1
"""

# KEYS: the dirty zset. ARGV: member, score pairs as read. Removes each mark still at the score read:
# a mark an event moved after the read stays for the next pass.
_UNMARK = """
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
"""


def bucket_key(hour: int) -> str:
    return keys.report_hour(hour)


def aggregate_key(hour: int) -> str:
    return keys.report_aggregate(hour)


def hour_of(ms: int) -> int:
    return ms // HOUR_MS


async def snapshot(store: ConversationStore, conversation_id: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """The conversation hash and its timeline entries, read in one atomic step.

    One script answering one JSON string (``conversations.batch``): it runs after every SLA
    firing and message, and redis-py's reply parsing of HGETALL + XRANGE was half the firing cost.
    """
    return await batch.snapshot(store.redis, await store.locate(conversation_id), conversation_id)


async def facts_of(store: ConversationStore, rules: RuleSet, conversation_id: str) -> Facts | None:
    fields, entries = await snapshot(store, conversation_id)
    if not fields or not entries:
        return None
    conversation = codec.conversation_from_hash(fields)
    timeline = [codec.message_from_fields(conversation_id, entry) for _, entry in entries]
    policy = rules.sla_policy_for(conversation.queue, conversation.sla_policy) if conversation.queue else None
    return compute(conversation, timeline, entries[-1][0], policy, rules.calendar_for(policy))


async def record(store: ConversationStore, rules: RuleSet, conversation_id: str) -> bool:
    """Recompute and store one conversation's row; False if it is gone or a newer row is stored."""
    try:
        facts = await facts_of(store, rules, conversation_id)
    except NotFound:
        return False
    if facts is None:
        return False
    hour = hour_of(facts.opened_ms)
    stored = await store.redis.eval(_RECORD, 4, bucket_key(hour), HOURS, VERSIONS, STALE, conversation_id,
                                    facts.stamp, facts.row(), str(hour))
    return bool(stored)


def dirty_mark(conversation_id: str) -> tuple[str | int, ...]:
    """The mark as a command, for writes that go out in another round trip (a stored message's).

    Sent again with a duplicate's retry: one more mark only records the row once more.
    """
    return ("ZINCRBY", DIRTY, 1, conversation_id)


def listener(store: ConversationStore, *, ingest_marked: bool = False) -> Listener:
    """Marks the conversation after every event that may change a figure (``record_marked`` records it).

    ``ingest_marked``: the store already sends ``dirty_mark`` with every stored message, so a
    stored message's own event needs no mark of its own.
    """

    async def on_event(event: ConversationEvent) -> None:
        if event.kind not in RECORDING_EVENTS or (ingest_marked and event.kind == EventKind.INGESTED):
            return
        targets = [event.conversation_id]
        if event.kind == EventKind.MERGED:
            targets = [c for c in event.detail.get("moved", "").split(",") if c] + targets
        marked = [conversation_id for conversation_id in targets if conversation_id]
        if len(marked) == 1:
            await store.redis.zincrby(DIRTY, 1, marked[0])
        elif marked:
            async with store.redis.pipeline(transaction=False) as pipe:
                for conversation_id in marked:
                    pipe.zincrby(DIRTY, 1, conversation_id)
                await pipe.execute()

    return on_event


async def record_marked(store: ConversationStore, rules: RuleSet, limit: int = RECORD_BATCH) -> int:
    """Record up to ``limit`` marked conversations; returns how many marks were read.

    Called by the sweeper every pass and by ``catch_up`` before a report is read. Conversations
    are recorded a few at a time; a mark moved by an event meanwhile stays for the next call.
    """
    members = redisio.scored(await store.redis.zrange(DIRTY, 0, limit - 1, withscores=True))
    if not members:
        return 0
    gate = asyncio.Semaphore(RECORD_CONCURRENCY)

    async def one(conversation_id: str) -> None:
        async with gate:
            await record(store, rules, conversation_id)

    await asyncio.gather(*(one(conversation_id) for conversation_id, _ in members))
    # The scores as Redis prints them, so the script compares equal strings.
    pairs = [part for conversation_id, score in members for part in (conversation_id, _score_text(score))]
    await store.redis.eval(_UNMARK, 1, DIRTY, *pairs)
    return len(members)


async def catch_up(store: ConversationStore, rules: RuleSet, most: int = CATCH_UP_MOST) -> None:
    """Record what is marked before a report is read (at most ``most`` conversations; the sweeper does the rest)."""
    done = 0
    while done < most:
        read = await record_marked(store, rules, min(RECORD_BATCH, most - done))
        if read == 0:
            return
        done += read


def _score_text(score: float) -> str:
    return str(int(score)) if float(score).is_integer() else repr(score)


async def rebuild(store: ConversationStore, rules: RuleSet, conversation_ids: Iterable[str]) -> int:
    """Recompute the rows of these conversations (``gateway report --rebuild``); returns how many were stored."""
    count = 0
    for conversation_id in conversation_ids:
        count += await record(store, rules, conversation_id)
    return count


async def hour_groups(redis: Redis, hours: list[int]) -> dict[int, HourGroups]:
    """Each hour's aggregates per queue|tier|channel: the cached ones if current, else recomputed and cached."""
    if not hours:
        return {}
    async with atomic.multi(redis, VERSIONS) as pipe:  # every report key shares one slot
        pipe.hmget(VERSIONS, [str(h) for h in hours])
        pipe.mget([aggregate_key(h) for h in hours])
        versions, cached = await pipe.execute()
    found: dict[int, HourGroups] = {}
    for hour, version, blob in zip(hours, versions, cached, strict=True):
        if blob:
            decoded = decode_hour(blob)
            if decoded.version == version:
                found[hour] = decoded
                continue
        async with atomic.multi(redis, bucket_key(hour)) as pipe:
            pipe.hvals(bucket_key(hour))
            pipe.hget(VERSIONS, str(hour))
            rows, current = await pipe.execute()
        # Written with the version its rows had: a row stored meanwhile bumps the version, so the
        # next read recomputes; two readers recomputing at once write the same thing.
        text = encode_hour(by_group(Facts.from_row(row) for row in rows), current)
        await redis.set(aggregate_key(hour), text)
        found[hour] = decode_hour(text)
    return found


async def warm(redis: Redis, limit: int = 500) -> int:
    """Recompute the aggregates of hours whose rows changed (the sweeper calls it); returns how many hours.

    A row stored while this runs may lose its mark; its hour is then recomputed by the next
    summary that reads it (the version check never serves a stale aggregate).
    """
    picked = await redis.srandmember(STALE, limit)
    hours = sorted(int(h) for h in redisio.texts(picked if isinstance(picked, list) else []))
    if not hours:
        return 0
    await hour_groups(redis, hours)
    await redis.srem(STALE, *(str(h) for h in hours))
    return len(hours)


async def collect(redis: Redis, spans: list[Filters], group_by: str | None = None) -> list[Collector]:
    """One collector per span (consecutive periods with the same dimensions), filled from hours and rows."""
    collectors = [Collector(span, group_by) for span in spans]
    starts = [span.start_ms for span in spans]
    start, end = spans[0].start_ms, spans[-1].end_ms
    hours = [int(h) for h in redisio.members(await redis.zrangebyscore(HOURS, hour_of(start), hour_of(end - 1)))]
    whole: list[tuple[int, int]] = []
    partial: list[int] = []
    for hour in hours:
        begins, ends = hour * HOUR_MS, (hour + 1) * HOUR_MS
        index = bisect.bisect_right(starts, begins) - 1
        if begins >= start and ends <= end and index >= 0 and ends <= spans[index].end_ms:
            whole.append((hour, index))
        else:
            partial.append(hour)
    groups = await hour_groups(redis, [hour for hour, _ in whole])
    for hour, index in whole:
        collectors[index].add_groups(groups[hour])
    if partial:
        async with atomic.multi(redis, VERSIONS) as pipe:
            for hour in partial:
                pipe.hvals(bucket_key(hour))
            buckets: list[list[str]] = await pipe.execute()
        for bucket in buckets:
            for row in bucket:
                facts = Facts.from_row(row)
                index = bisect.bisect_right(starts, facts.opened_ms) - 1
                if index >= 0:
                    collectors[index].add_rows([facts])
    return collectors


async def summary(redis: Redis, filters: Filters, group_by: str | None = None) -> dict[str, Any]:
    """The report of conversations opened in the filters' period that pass its dimensions."""
    [collector] = await collect(redis, [filters], group_by)
    return collector.report()


async def series(redis: Redis, filters: Filters, metric: str, step_ms: int) -> list[tuple[int, Any]]:
    """``metric`` per interval of ``step_ms`` from the period's start; each point is a summary of its own."""
    spans = [replace(filters, start_ms=at, end_ms=min(at + step_ms, filters.end_ms))
             for at in range(filters.start_ms, filters.end_ms, step_ms)]
    return [(span.start_ms, pick(collector.report(), metric))
            for span, collector in zip(spans, await collect(redis, spans), strict=True)]
