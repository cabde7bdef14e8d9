"""The reports' pre-aggregation in Redis: one row per conversation, in the hour bucket it opened in.

Layout (docs/REPORTS.md):
- ``gw:report:hour:<epoch hour>``: hash, conversation id → its ``Facts`` row (JSON array).
- ``gw:report:hours``: zset, epoch hour → epoch hour: the buckets that exist.

``record`` reads the conversation hash and timeline in one MULTI (a consistent
snapshot: every verb writes both in one transaction), computes the row and
stores it with a script that keeps the row computed from the newest timeline:
two processes recording the same conversation at once never leave the older
state behind. Recording is idempotent, so it runs after every event that can
change a figure, and ``rebuild`` recomputes any period from the stored facts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from conversations import codec, keys, redisio
from conversations.errors import NotFound
from conversations.events import ConversationEvent, EventKind, Listener
from conversations.store import ConversationStore
from router import RuleSet
from workers.report_facts import Facts, compute
from workers.report_summary import Filters, report, timeseries

log = logging.getLogger("gateway.reports")

PREFIX = "gw:report"
HOURS = f"{PREFIX}:hours"
HOUR_MS = 3_600_000
# Events after which a conversation's figures may have changed (deliveries, notes and
# assignments change none of them).
RECORDING_EVENTS = frozenset({
    EventKind.INGESTED, EventKind.ROUTED, EventKind.REPLIED, EventKind.TRANSFERRED, EventKind.ESCALATED,
    EventKind.RESOLVED, EventKind.REOPENED, EventKind.MERGED, EventKind.SLA_WARNING, EventKind.SLA_BREACH,
    EventKind.CSAT_SENT, EventKind.CSAT_RATED,
})

# KEYS: bucket, hours index. ARGV: conversation id, stamp ("<ms>-<seq>"), row, hour.
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
return 1
"""


def bucket_key(hour: int) -> str:
    return f"{PREFIX}:hour:{hour}"


def hour_of(ms: int) -> int:
    return ms // HOUR_MS


async def snapshot(store: ConversationStore, conversation_id: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    """The conversation hash and its timeline entries, read in one transaction."""
    ck = keys.CustomerKeys(await store.locate(conversation_id))
    async with store.redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(ck.conversation(conversation_id))
        pipe.xrange(ck.messages(conversation_id))
        fields, entries = await pipe.execute()
    return redisio.text_hash(fields), redisio.stream_entries(entries)


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
    stored = await store.redis.eval(_RECORD, 2, bucket_key(hour), HOURS, conversation_id, facts.stamp,
                                    facts.row(), str(hour))
    return bool(stored)


def listener(store: ConversationStore, rules: Callable[[], RuleSet]) -> Listener:
    """Records the conversation's row after every event that may change a figure."""

    async def on_event(event: ConversationEvent) -> None:
        if event.kind not in RECORDING_EVENTS:
            return
        targets = [event.conversation_id]
        if event.kind == EventKind.MERGED:
            targets = [c for c in event.detail.get("moved", "").split(",") if c] + targets
        for conversation_id in targets:
            if conversation_id:
                await record(store, rules(), conversation_id)

    return on_event


async def rows(redis: Redis, start: datetime, end: datetime) -> list[str]:
    """Every stored row of conversations opened in the hours overlapping [start, end)."""
    first, last = hour_of(codec.to_ms(start)), hour_of(codec.to_ms(end) - 1)
    hours = redisio.members(await redis.zrangebyscore(HOURS, first, last))
    if not hours:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for hour in hours:
            pipe.hvals(bucket_key(int(hour)))
        found: list[list[str]] = await pipe.execute()
    return [row for bucket in found for row in bucket]


async def rebuild(store: ConversationStore, rules: RuleSet, conversation_ids: Iterable[str]) -> int:
    """Recompute the rows of these conversations (``gateway report --rebuild``); returns how many were stored."""
    count = 0
    for conversation_id in conversation_ids:
        count += await record(store, rules, conversation_id)
    return count


async def summary(redis: Redis, filters: Filters, group_by: str | None = None) -> dict[str, Any]:
    """The report of conversations opened in the filters' period (see ``report_summary.report``)."""
    found = await rows(redis, codec.from_ms(filters.start_ms), codec.from_ms(filters.end_ms))  # type: ignore[arg-type]
    return report(found, filters, group_by)


async def series(redis: Redis, filters: Filters, metric: str, step_ms: int) -> list[tuple[int, Any]]:
    found = await rows(redis, codec.from_ms(filters.start_ms), codec.from_ms(filters.end_ms))  # type: ignore[arg-type]
    return timeseries(found, filters, metric, step_ms)
