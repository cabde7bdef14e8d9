"""Merging two customers when an identity links them.

The merged customer's conversations move into the survivor's slot (keeping
their ids, so links and Slack threads still resolve). If both customers had a
live conversation, the merged one's messages are folded into the survivor's
live conversation in time order and the moved copy is marked resolved with a
pointer, so the customer keeps exactly one live conversation.

Order of steps makes it safe against concurrent ingest: the merged customer
is marked first (its ingest script then answers "moved" and the caller
retries on the survivor), identities are repointed next, data is copied last.
Each step is idempotent, so a merge interrupted by a crash can be run again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from conversations import atomic, codec, ids, keys, redisio
from conversations.backlog import VERSION_FIELD
from conversations.models import LIVE_STATUSES, Status
from conversations.store import ConversationStore

MERGED_INTO_CONVERSATION = "merged_into_conversation"


@dataclass(frozen=True, slots=True)
class MergeResult:
    survivor_id: str
    live_conversation_id: str | None
    moved_conversations: tuple[str, ...]


async def merge_customers(store: ConversationStore, survivor_id: str, merged_id: str, *, now: datetime,
                          author: str) -> MergeResult:
    redis = store.redis
    survivor, merged = keys.CustomerKeys(survivor_id), keys.CustomerKeys(merged_id)
    await redis.hset(merged.customer, "merged_into", survivor_id)

    moved_identities = redisio.texts(await redis.smembers(merged.identities))
    for identity_key in moved_identities:
        await redis.set(keys.identity(identity_key), survivor_id)
        await redis.sadd(survivor.identities, identity_key)

    seen = redisio.text_hash(await redis.hgetall(merged.seen))
    if seen:
        await redis.hset(survivor.seen, mapping=redisio.fields(seen))
        seen_at = redisio.scored(await redis.zrange(merged.seen_at, 0, -1, withscores=True))
        await redis.zadd(survivor.seen_at, dict(seen_at))

    merged_customer = redisio.text_hash(await redis.hgetall(merged.customer))
    if merged_customer.get("name") and not await redis.hget(survivor.customer, "name"):
        await redis.hset(survivor.customer, "name", merged_customer["name"])
    await store.search.add(survivor_id, name=merged_customer.get("name", ""), identities=moved_identities)

    moved: list[str] = []
    for conversation_id in redisio.texts(await redis.lrange(merged.conversations, 0, -1)):
        # Both customers' slots change: the intents let the sweeper finish the index's syncs
        # if this process dies part-way (the merge itself is re-run idempotently).
        intents = [await store.index.intend("cust", survivor_id), await store.index.intend("conv", conversation_id)]
        folded_into = await _move_conversation(redis, merged, survivor, conversation_id, now=now, author=author)
        if folded_into:
            await store.index.sync(folded_into)
        await store.index.sync(conversation_id)
        for intent in intents:
            await store.index.forget(intent)
        moved.append(conversation_id)
    await redis.delete(merged.conversations, merged.seen, merged.seen_at)
    live = redisio.optional_text(await redis.hget(survivor.customer, "live"))
    return MergeResult(survivor_id, live, tuple(moved))


async def _move_conversation(redis: Redis, source: keys.CustomerKeys, target: keys.CustomerKeys, conversation_id: str,
                             *, now: datetime, author: str) -> str | None:
    """Move one conversation into the survivor's slot; returns the live conversation it was folded into, if any."""
    fields = redisio.text_hash(await redis.hgetall(source.conversation(conversation_id)))
    if not fields:
        return None  # moved by an earlier, interrupted run
    fields[VERSION_FIELD] = str(int(fields.get(VERSION_FIELD) or 0) + 1)
    entries = redisio.stream_entries(await redis.xrange(source.messages(conversation_id)))
    delivery = redisio.text_hash(await redis.hgetall(source.delivery(conversation_id)))
    fields["customer_id"] = target.customer_id

    survivor_live = redisio.optional_text(await redis.hget(target.customer, "live"))
    survivor_live_fields = (redisio.text_hash(await redis.hgetall(target.conversation(survivor_live)))
                            if survivor_live else {})
    moving_is_live = fields["status"] in LIVE_STATUSES
    survivor_is_live = survivor_live_fields.get("status") in LIVE_STATUSES

    # survivor_is_live implies survivor_live is set; the test says so to the type checker.
    folded_into = None
    if moving_is_live and survivor_is_live and survivor_live and survivor_live != conversation_id:
        folded_into = survivor_live
        await _fold_into(redis, target, survivor_live, entries, delivery, fields, now=now, author=author)
        fields.update({"status": Status.RESOLVED.value, "resolved_at": str(codec.to_ms(now)),
                       MERGED_INTO_CONVERSATION: survivor_live})

    async with atomic.multi(redis, target.conversation(conversation_id)) as pipe:
        pipe.hset(target.conversation(conversation_id), mapping=redisio.fields(fields))
        pipe.delete(target.messages(conversation_id))
        for entry_id, entry in entries:
            pipe.xadd(target.messages(conversation_id), redisio.fields(entry), id=entry_id)
        if delivery:
            pipe.hset(target.delivery(conversation_id), mapping=redisio.fields(delivery))
        await pipe.execute()

    await _insert_in_history(redis, target, conversation_id, int(fields["created_at"]))
    if moving_is_live and not survivor_is_live:
        await redis.hset(target.customer, "live", conversation_id)
    elif not survivor_live:
        await redis.hset(target.customer, "live", conversation_id)
    await redis.set(keys.conversation_locator(conversation_id), target.customer_id)
    await redis.delete(source.conversation(conversation_id), source.messages(conversation_id),
                       source.delivery(conversation_id))
    return folded_into


async def _fold_into(redis: Redis, target: keys.CustomerKeys, live_id: str, entries: list[tuple[str, dict[str, str]]],
                     delivery: dict[str, str], moving_fields: dict[str, str], *, now: datetime, author: str) -> None:
    """Rebuild the survivor's live timeline with the moving messages, in time order."""
    stream, conversation_key = target.messages(live_id), target.conversation(live_id)
    note = {
        "id": ids.message_id(), "direction": "event", "author": "gateway", "kind": "merged",
        "text": f"{author} linked another identity of this customer; "
                f"{len(entries)} messages of conversation {moving_fields['id']} were merged in",
        "created_at": str(codec.to_ms(now)), "meta": json.dumps({"from_conversation": moving_fields["id"]}),
    }
    async def attempt(pipe: Pipeline) -> None:
        current = redisio.stream_entries(await pipe.xrange(stream))
        live_fields = redisio.text_hash(await pipe.hgetall(conversation_key))
        already = {entry.get("id") for _, entry in current}
        incoming = [entry for _, entry in entries if entry.get("id") not in already]
        combined = sorted([entry for _, entry in current] + incoming, key=lambda e: int(e["created_at"]))
        combined.append(note)
        redisio.multi(pipe)
        pipe.delete(stream)
        for entry_id, entry in zip(_ascending_ids(combined), combined, strict=True):
            pipe.xadd(stream, redisio.fields(entry), id=entry_id)
        if delivery:
            pipe.hset(target.delivery(live_id), mapping=redisio.fields(delivery))
        inbound = sum(1 for entry in incoming if entry.get("direction") == "inbound")
        pipe.hincrby(conversation_key, "message_count", inbound)
        pipe.hincrby(conversation_key, VERSION_FIELD, 1)
        pipe.hset(conversation_key, "updated_at", str(codec.to_ms(now)))
        for name in ("address:email", "address:sms", "address:slack", "address:webchat"):
            if moving_fields.get(name):
                pipe.hsetnx(conversation_key, name, moving_fields[name])
        latest = _latest_inbound(live_fields, moving_fields)
        if latest:
            pipe.hset(conversation_key, mapping=redisio.fields(latest))
        await pipe.execute()

    await atomic.watched(redis, [stream, conversation_key], attempt)


def _latest_inbound(live: dict[str, str], moving: dict[str, str]) -> dict[str, str]:
    """If the customer wrote to the moving conversation last, replies go where they wrote from.

    Without this a visitor whose first web chat message merged them into their email
    customer would be answered by email, and their open chat would get nothing.
    """
    moving_at = int(moving.get("last_inbound_at") or 0)
    channel = moving.get("last_inbound_channel")
    if not channel or moving_at <= int(live.get("last_inbound_at") or 0):
        return {}
    latest = {"last_inbound_at": str(moving_at), "last_inbound_channel": channel}
    if moving.get(f"address:{channel}"):
        latest[f"address:{channel}"] = moving[f"address:{channel}"]
    return latest


def _ascending_ids(entries: Iterable[Mapping[str, str]]) -> list[str]:
    """Explicit stream ids from creation times, strictly increasing as streams require."""
    result: list[str] = []
    last_ms, seq = -1, 0
    for entry in entries:
        millis = int(entry["created_at"])
        if millis <= last_ms:
            millis, seq = last_ms, seq + 1
        else:
            seq = 0
        result.append(f"{millis}-{seq}")
        last_ms = millis
    return result


async def _insert_in_history(redis: Redis, target: keys.CustomerKeys, conversation_id: str, created_ms: int) -> None:
    history = redisio.texts(await redis.lrange(target.conversations, 0, -1))
    if conversation_id in history:
        return
    created: dict[str, int] = {}
    for other in history:
        created[other] = int(await redis.hget(target.conversation(other), "created_at") or 0)
    created[conversation_id] = created_ms
    ordered = sorted(created, key=created.__getitem__)
    async with atomic.multi(redis, target.conversations) as pipe:
        pipe.delete(target.conversations)
        pipe.rpush(target.conversations, *ordered)
        await pipe.execute()
