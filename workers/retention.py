"""GATEWAY_RETENTION__*: resolved conversations older than ``resolved_days`` leave Redis for the archive.

The sweeper calls ``archive_resolved`` every few minutes. Candidates come from the
backlog index (resolved buckets, by last activity, oldest first); each is read
again and archived only if it is still resolved and was resolved before the
cut-off. A batch becomes one gzip JSON-lines object in the attachment store
(``conversations/archive.py``); then each conversation's keys are deleted, its
backlog index entry and Slack thread state dropped. Report rows stay (they are
filed by opening hour and were recorded when the conversation resolved), so the
reports do not change.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from channels.slack import keys as slack_keys
from conversations import codec, keys, redisio
from conversations.archive import Archive, Record, read_live
from conversations.attachments import AttachmentStore
from conversations.backlog import Order
from conversations.index import BacklogIndex
from conversations.models import Status

log = logging.getLogger("gateway.retention")
DAY_MS = 24 * 3600 * 1000
MOVES_AT_ONCE = 16  # conversations moved concurrently: each is a few round trips waiting on Redis


class RetentionSettings(BaseModel):
    # Resolved conversations older than this many days move to the archive; unset keeps them in Redis forever.
    resolved_days: int | None = Field(default=None, ge=1, le=36500)
    batch: int = Field(default=1000, ge=1, le=10_000)  # conversations per archive object


async def candidates(index: BacklogIndex, cutoff_ms: int, limit: int) -> list[str]:
    """Resolved conversations last active at or before ``cutoff_ms``, oldest first."""
    names = [keys.index_set(Order.ACTIVITY.value, bucket.id) for bucket in await index.buckets()
             if bucket.status == Status.RESOLVED.value]
    if not names:
        return []
    async with index.redis.pipeline(transaction=False) as pipe:
        for name in names:
            # Scores are -updated_at: older activity has the higher score.
            pipe.zrevrangebyscore(name, "+inf", -cutoff_ms, start=0, num=limit, withscores=True)
        replies = await pipe.execute()
    found = [(-int(score), member) for reply in replies for member, score in redisio.scored(reply)]
    return [member for _, member in sorted(found)[:limit]]


async def slack_thread_keys(redis: Redis, conversation_ids: list[str]) -> list[str]:
    """Every Slack key of these conversations: thread state, notices, markers, and the thread → conversation keys."""
    async with redis.pipeline(transaction=False) as pipe:
        for conversation_id in conversation_ids:
            pipe.hgetall(slack_keys.conversation_key(conversation_id))
        threads = [redisio.text_hash(fields) for fields in await pipe.execute()]
    found: list[str] = []
    for conversation_id, thread in zip(conversation_ids, threads, strict=True):
        found += [slack_keys.conversation_key(conversation_id), slack_keys.notices_key(conversation_id),
                  slack_keys.dirty_key(conversation_id), slack_keys.queued_key(conversation_id),
                  slack_keys.pause_key(conversation_id), slack_keys.lock_key(conversation_id)]
        old_channel, _, old_ts = thread.get("moving_from", "").partition(" ")
        for channel, ts in ((thread.get("channel", ""), thread.get("ts", "")), (old_channel, old_ts)):
            if channel and ts:
                found.append(slack_keys.thread_key(channel, ts))
    return found


async def drop_slack_state(redis: Redis, conversation_ids: list[str]) -> int:
    """Delete those keys; one DEL each in one round trip (on a cluster they live in different slots)."""
    if not conversation_ids:
        return 0
    names = await slack_thread_keys(redis, conversation_ids)
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.delete(name)
        return sum(int(n) for n in await pipe.execute())


async def archive_resolved(redis: Redis, index: BacklogIndex, files: AttachmentStore, *, days: int, now: datetime,
                           batch: int = 1000) -> int:
    """Archive up to ``batch`` resolved conversations resolved more than ``days`` ago; returns how many moved."""
    cutoff = codec.to_ms(now) - days * DAY_MS
    ids = await candidates(index, cutoff, batch)
    if not ids:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for conversation_id in ids:
            pipe.get(keys.conversation_locator(conversation_id))
        owners = [redisio.optional_text(owner) for owner in await pipe.execute()]
    gate = asyncio.Semaphore(MOVES_AT_ONCE)

    async def read(conversation_id: str, owner: str | None) -> Record | None:
        async with gate:
            record = await read_live(redis, owner, conversation_id) if owner else None
            if record is None:
                await index.apply(None, conversation_id)  # gone (erased): nothing to archive, nothing to list
            return record

    records: list[Record] = []
    for record in await asyncio.gather(*(read(c, owner) for c, owner in zip(ids, owners, strict=True))):
        if record is None:
            continue
        resolved_at = int(record.fields.get("resolved_at") or 0)
        if record.fields.get("status") == Status.RESOLVED.value and 0 < resolved_at <= cutoff:
            records.append(record)
    if not records:
        return 0
    archive = Archive(redis, files)
    object_name = await archive.write(records, now)

    async def move(record: Record) -> str | None:
        async with gate:
            if not await archive.move_out(record, object_name):
                return None
            await index.apply(None, record.conversation_id)
            return record.conversation_id

    moved = [c for c in await asyncio.gather(*(move(record) for record in records)) if c is not None]
    if not moved:  # every one changed meanwhile (reopened): the object names nothing
        await files.delete(object_name)
        return 0
    await drop_slack_state(redis, moved)
    log.info("archived %d resolved conversations older than %d days into %s", len(moved), days, object_name)
    return len(moved)
