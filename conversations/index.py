"""The backlog indexes in Redis: kept with every change, listed page by page, repaired, rebuilt.

Layout (every key shares the hash tag ``{ix}``, so one script can move a
conversation between buckets atomically on a Redis Cluster too):

- ``gw:{ix}:activity:<bucket>`` zset: conversation → ``-updated_at`` (ms)
- ``gw:{ix}:urgency:<bucket>`` zset: live conversation → earliest SLA deadline
- ``gw:{ix}:buckets`` hash: bucket id → bucket JSON (which sets exist)
- ``gw:{ix}:state`` hash: conversation → ``<version>|<bucket>`` (what the index holds)
- ``gw:{ix}:intents`` zset: ``conv:<id>|<token>`` / ``cust:<id>|<token>`` → ms, changes under way

How the index stays exact (``docs/BACKLOG.md``):

- On one Redis (or a Sentinel master) the sync script runs inside the same
  MULTI/EXEC as the conversation's change (``store.mutate``): both or neither.
- On a Redis Cluster the conversation lives in its customer's slot and the
  index in ``{ix}``'s, so no transaction spans both. An *intent* is written to
  the index slot before the change and cleared by the sync after it; a crash
  in between leaves the intent, and the sweeper re-syncs every intent older
  than ``REPAIR_AFTER`` from the conversation as it is (``repair``).
- Every sync carries the conversation's ``index_version`` (bumped by every
  change of its hash): an older sync arriving late does nothing, so
  concurrent changes leave the newest state, whatever order their syncs run in.
- The ingest script works in the customer's slot on every deployment, so
  ingest uses the intent too (keyed by customer: the conversation is only
  known once the script has run).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster

from conversations import keys, redisio
from conversations.backlog import Bucket, Cursor, Entry, Filter, Order, entry_of
from conversations.clock import now_ms

SYNC_SCRIPT = resources.files("conversations").joinpath("scripts/index_sync.lua").read_text()
# The sync of many conversations in one call: the same script body, once per 8 arguments.
# ARGV[1]: a JSON list of each sync's 8 arguments (as strings), so redis-py packs one argument.
SYNC_MANY_SCRIPT = ("local function sync_one(KEYS, ARGV)\n" + SYNC_SCRIPT + "\nend\n"
                    "for _, args in ipairs(cjson.decode(ARGV[1])) do sync_one(KEYS, args) end\nreturn 1\n")
PAGE_SCRIPT = resources.files("conversations").joinpath("scripts/index_page.lua").read_text()
REPAIR_AFTER_MS = 10_000  # an intent this old belongs to a change whose process died before syncing
MAX_PAGE = 1000
REBUILD_BATCH = 1000
SYNC_KEYS = [keys.INDEX_STATE, keys.INDEX_BUCKETS, keys.INDEX_INTENTS]
# A removal's version: above any real one, so it is never refused as stale.
GONE_VERSION = 2**52


@dataclass(frozen=True, slots=True)
class Page:
    items: list[tuple[str, int]]  # conversation id, score
    next_cursor: Cursor | None


class BacklogIndex:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.cluster = isinstance(redis, RedisCluster)
        self._sync = redis.register_script(SYNC_SCRIPT)
        self._page = redis.register_script(PAGE_SCRIPT)
        self._sync_many = redis.register_script(SYNC_MANY_SCRIPT)

    # -- keeping it -------------------------------------------------------------------

    async def queue_sync(self, pipe: Pipeline, entry: Entry) -> None:
        """Queue the sync on a transaction of one Redis (not a cluster: the keys are in another slot)."""
        await self._sync(keys=SYNC_KEYS, args=_args(entry, entry.conversation_id, ""), client=pipe)

    async def apply(self, entry: Entry | None, conversation_id: str = "", *, intent: str = "") -> bool:
        """Write one conversation's entry (None: remove it) and clear ``intent``; False if a newer one is held."""
        name = entry.conversation_id if entry else conversation_id
        return bool(int(await self._sync(keys=SYNC_KEYS, args=_args(entry, name, intent))))

    async def forget(self, intent: str) -> None:
        await self.redis.zrem(keys.INDEX_INTENTS, intent)

    async def intend(self, kind: str, ident: str) -> str:
        """Record a change about to happen (``conv`` or ``cust``); the sync after it clears the intent."""
        member = intent_member(kind, ident)
        await self.redis.zadd(keys.INDEX_INTENTS, {member: now_ms()})
        return member

    async def intend_many(self, kind: str, idents: list[str]) -> list[str]:
        """``intend`` for many at once (one command); the intents in the order of ``idents``."""
        token = secrets.token_hex(6)  # one per call: each member still names its own change
        members = [f"{kind}:{ident}|{token}" for ident in idents]
        if members:
            at = now_ms()
            await self.redis.zadd(keys.INDEX_INTENTS, {member: at for member in members})
        return members

    async def forget_many(self, intents: list[str]) -> None:
        if intents:
            await self.redis.zrem(keys.INDEX_INTENTS, *intents)

    async def apply_many(self, entries: list[tuple[Entry, str]], *, group: int = 200) -> None:
        """``apply`` for many (entry, intent) pairs: one script call per ``group`` (every index key is in ``{ix}``)."""
        for start in range(0, len(entries), group):
            syncs = [[str(arg) for arg in _args(entry, entry.conversation_id, intent)]
                     for entry, intent in entries[start:start + group]]
            await self._sync_many(keys=SYNC_KEYS, args=[json.dumps(syncs)])

    async def sync(self, conversation_id: str, *, intent: str = "") -> bool:
        """Index the conversation as it is now in Redis (or drop it if it is gone)."""
        fields = await self._read(conversation_id)
        return await self.apply(entry_of(fields) if fields else None, conversation_id, intent=intent)

    async def _read(self, conversation_id: str) -> dict[str, str] | None:
        customer_id = redisio.optional_text(await self.redis.get(keys.conversation_locator(conversation_id)))
        if not customer_id:
            return None
        fields = redisio.text_hash(await self.redis.hgetall(keys.CustomerKeys(customer_id).conversation(conversation_id)))
        return fields or None

    async def sync_customer(self, customer_id: str, *, intent: str = "") -> int:
        """Re-sync every conversation of a customer (after a change that started in its slot)."""
        history = redisio.texts(await self.redis.lrange(keys.CustomerKeys(customer_id).conversations, 0, -1))
        for conversation_id in history:
            await self.sync(conversation_id)
        if intent:
            await self.forget(intent)
        return len(history)

    async def repair(self, *, older_than_ms: int = REPAIR_AFTER_MS, batch: int = 200) -> int:
        """Finish the syncs of changes whose process died after the change (the sweeper calls this)."""
        stale = redisio.members(await self.redis.zrangebyscore(keys.INDEX_INTENTS, "-inf", now_ms() - older_than_ms,
                                                               start=0, num=batch))
        for member in stale:
            kind, _, rest = member.partition(":")
            ident = rest.partition("|")[0]
            if kind == "cust":
                await self.sync_customer(ident)
            else:
                await self.sync(ident)
            await self.redis.zrem(keys.INDEX_INTENTS, member)
        return len(stale)

    # -- reading it --------------------------------------------------------------------

    async def buckets(self) -> list[Bucket]:
        return [Bucket.parse(text) for text in redisio.text_hash(await self.redis.hgetall(keys.INDEX_BUCKETS)).values()]

    async def page(self, wanted: Filter, order: Order, *, limit: int, cursor: Cursor | None = None) -> Page:
        """Up to ``limit`` conversations after ``cursor``, exactly in order, over every matching bucket."""
        limit = max(1, min(limit, MAX_PAGE))
        sets = [keys.index_set(order.value, bucket.id) for bucket in await self.buckets()
                if wanted.matches(bucket, order)]
        if not sets:
            return Page([], None)
        args: list[str | int] = [limit + 1, "1" if cursor else "0",
                                 cursor.score if cursor else 0, cursor.member if cursor else ""]
        reply = redisio.texts(await self._page(keys=sets, args=args))
        items = [(reply[i], int(float(reply[i + 1]))) for i in range(0, len(reply), 2)]
        more = len(items) > limit
        items = items[:limit]
        next_cursor = Cursor(order, items[-1][1], items[-1][0]) if more and items else None
        return Page(items, next_cursor)

    async def active_between(self, lower_ms: int, upper_ms: int, *, limit: int) -> list[tuple[str, int]]:
        """Conversations last active in [lower, upper] ms, oldest activity first (the outbound recovery scan)."""
        names = [keys.index_set(Order.ACTIVITY.value, bucket.id) for bucket in await self.buckets()]
        if not names:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.zrevrangebyscore(name, -lower_ms, -upper_ms, start=0, num=limit, withscores=True)
            replies = await pipe.execute()
        found = [(member, -int(score)) for reply in replies for member, score in redisio.scored(reply)]
        found.sort(key=lambda item: (item[1], item[0]))
        return found[:limit]

    async def count(self, wanted: Filter, order: Order = Order.ACTIVITY) -> int:
        sets = [keys.index_set(order.value, bucket.id) for bucket in await self.buckets()
                if wanted.matches(bucket, order)]
        if not sets:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in sets:
                pipe.zcard(name)
            return sum(int(n) for n in await pipe.execute())

    # -- rebuilding it -----------------------------------------------------------------

    async def rebuild(self) -> dict[str, int]:
        """Index every stored conversation and drop what no conversation backs (``gateway index rebuild``).

        Safe while the gateway runs: each sync is versioned, so a conversation changed meanwhile
        keeps its newer entry.
        """
        indexed = 0
        batch: list[str] = []
        async for key in self.redis.scan_iter(match=keys.EVERY_CONVERSATION, count=1000, _type="hash"):
            batch.append(key)
            if len(batch) >= REBUILD_BATCH:
                indexed += await self._index_batch(batch)
                batch = []
        indexed += await self._index_batch(batch)
        removed = await self._drop_orphans()
        await self.redis.delete(keys.LEGACY_CONVERSATIONS_INDEX)  # the activity-only index this one replaced
        return {"indexed": indexed, "removed": removed}

    async def _index_batch(self, names: list[str]) -> int:
        """Index a batch of conversation hashes: reads pipelined, syncs a few dozen at a time."""
        if not names:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(name)
            hashes = [redisio.text_hash(fields) for fields in await pipe.execute()]
        hashes = [fields for fields in hashes if fields.get("id") and fields.get("customer_id")]
        async with self.redis.pipeline(transaction=False) as pipe:
            for fields in hashes:
                pipe.get(keys.conversation_locator(fields["id"]))
            owners = await pipe.execute()
        # A copy a merge left behind mid-move is not the conversation: its locator names another customer.
        entries = [entry_of(fields) for fields, owner in zip(hashes, owners, strict=True)
                   if redisio.optional_text(owner) == fields["customer_id"]]
        if self.cluster:  # the node clients' pipelines take no scripts: a few dozen at once
            for start in range(0, len(entries), 50):
                await asyncio.gather(*(self.apply(entry) for entry in entries[start:start + 50]))
        else:
            async with self.redis.pipeline(transaction=False) as pipe:
                for entry in entries:
                    await self._sync(keys=SYNC_KEYS, args=_args(entry, entry.conversation_id, ""), client=pipe)
                await pipe.execute()
        return len(entries)

    async def _drop_orphans(self) -> int:
        removed = 0
        state = redisio.text_hash(await self.redis.hgetall(keys.INDEX_STATE))
        ids = list(state)
        for start in range(0, len(ids), REBUILD_BATCH):
            chunk = ids[start:start + REBUILD_BATCH]
            async with self.redis.pipeline(transaction=False) as pipe:
                for conversation_id in chunk:
                    pipe.get(keys.conversation_locator(conversation_id))
                owners = [redisio.optional_text(owner) for owner in await pipe.execute()]
            async with self.redis.pipeline(transaction=False) as pipe:
                for conversation_id, owner in zip(chunk, owners, strict=True):
                    pipe.exists(keys.CustomerKeys(owner or "-").conversation(conversation_id))
                present = await pipe.execute()
            for conversation_id, owner, exists in zip(chunk, owners, present, strict=True):
                if not owner or not exists:
                    await self.apply(None, conversation_id)  # removes it
                    state.pop(conversation_id)
                    removed += 1
        held = {conversation_id: value.partition("|")[2] for conversation_id, value in state.items()}
        for order in Order:
            async for name in self.redis.scan_iter(match=keys.index_set(order.value, "*"), count=1000):
                bucket_id = name.rpartition(":")[2]
                strays = [member async for member, _ in self.redis.zscan_iter(name, count=1000)
                          if held.get(member) != bucket_id]
                if strays:
                    await self.redis.zrem(name, *strays)
                    removed += len(strays)
        for bucket in await self.buckets():
            if not await self.redis.exists(*(keys.index_set(order.value, bucket.id) for order in Order)):
                await self.redis.hdel(keys.INDEX_BUCKETS, bucket.id)
        return removed



def intent_member(kind: str, ident: str) -> str:
    return f"{kind}:{ident}|{secrets.token_hex(6)}"


def intent_command(member: str) -> tuple[str | int, ...]:
    """``intend`` as a command, for a caller that pipelines it with other writes."""
    return ("ZADD", keys.INDEX_INTENTS, now_ms(), member)


def sync_arguments(entry: Entry, intent: str) -> tuple[list[str], list[str | int]]:
    """The sync script's keys and arguments (``SYNC_SCRIPT``), for a caller that pipelines it."""
    return SYNC_KEYS, _args(entry, entry.conversation_id, intent)


def _args(entry: Entry | None, conversation_id: str, intent: str) -> list[str | int]:
    if entry is None:
        return [keys.INDEX_TAG, conversation_id, GONE_VERSION, "", "", 0, "", intent]
    return [keys.INDEX_TAG, conversation_id, entry.version, entry.bucket.id, entry.bucket.json(), entry.activity,
            "" if entry.urgency is None else entry.urgency, intent]
