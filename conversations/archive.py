"""The archive of old resolved conversations: gzip JSON lines in the attachment store, a pointer in Redis.

Retention (``workers/retention.py``) moves a resolved conversation out of Redis:
the conversation hash, its timeline stream and delivery states are written as one
JSON line into a batch object (``att_archive_<yyyymmdd>_<random>``, gzip), then
a pointer ``conversation id → "<object> <customer>"`` is set and the Redis keys
are deleted. Pointers live in ``POINTER_BUCKETS`` small hashes, so each costs a
few dozen bytes (Redis keeps small hashes as a packed list) instead of a key.

The pointer is written before the keys are deleted and a reader tries the live
keys first, so a conversation is always readable from one or the other; a
conversation that changed meanwhile (reopened) keeps its keys and its pointer is
removed again.
"""

from __future__ import annotations

import gzip
import json
import secrets
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from conversations import atomic, codec, keys, redisio
from conversations.attachments import AttachmentStore, StoredFile
from conversations.models import Conversation, Message

POINTER_BUCKETS = 1024  # 100,000 archived conversations: ~100 a hash, under Redis's packed-hash limit (128)
CONTENT_TYPE = "application/gzip"


def pointer_key(conversation_id: str) -> str:
    return keys.archive_pointer(zlib.crc32(conversation_id.encode()) % POINTER_BUCKETS)


def object_id(now: datetime) -> str:
    """A batch object's id, valid in the attachment store: the day it was written plus 12 random chars."""
    return f"att_archive_{now.astimezone(timezone.utc):%Y%m%d}_{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class Record:
    """One archived conversation as read back from Redis or the archive."""

    fields: dict[str, str]
    entries: list[tuple[str, dict[str, str]]]
    delivery: dict[str, str]

    @property
    def conversation_id(self) -> str:
        return self.fields["id"]

    def line(self) -> bytes:
        return json.dumps({"conversation": self.fields, "entries": self.entries, "delivery": self.delivery},
                          separators=(",", ":"), sort_keys=True).encode() + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Record:
        raw = json.loads(line)
        return cls(fields=raw["conversation"], entries=[(e[0], e[1]) for e in raw["entries"]],
                   delivery=raw["delivery"])

    def conversation(self) -> Conversation:
        return codec.conversation_from_hash(self.fields)

    def messages(self) -> list[Message]:
        return [codec.message_from_fields(self.conversation_id, fields, self.delivery)
                for _, fields in self.entries]


def pack(records: Iterable[Record]) -> bytes:
    return gzip.compress(b"".join(record.line() for record in records), compresslevel=6)


def unpack(data: bytes) -> list[Record]:
    return [Record.from_line(line) for line in gzip.decompress(data).splitlines() if line.strip()]


async def read_live(redis: Redis, customer_id: str, conversation_id: str) -> Record | None:
    ck = keys.CustomerKeys(customer_id)
    async with atomic.multi(redis, ck.conversation(conversation_id)) as pipe:
        pipe.hgetall(ck.conversation(conversation_id))
        pipe.xrange(ck.messages(conversation_id))
        pipe.hgetall(ck.delivery(conversation_id))
        fields, entries, delivery = await pipe.execute()
    if not fields:
        return None
    return Record(redisio.text_hash(fields), redisio.stream_entries(entries), redisio.text_hash(delivery))


class Archive:
    """Writing batches, pointers, and reading an archived conversation back."""

    def __init__(self, redis: Redis, files: AttachmentStore) -> None:
        self.redis = redis
        self.files = files

    async def pointer(self, conversation_id: str) -> tuple[str, str] | None:
        """(object id, customer id) of an archived conversation, else None."""
        raw = redisio.optional_text(await self.redis.hget(pointer_key(conversation_id), conversation_id))
        if not raw:
            return None
        object_name, _, customer_id = raw.partition(" ")
        return object_name, customer_id

    async def read(self, conversation_id: str) -> Record | None:
        found = await self.pointer(conversation_id)
        if found is None:
            return None
        for record in await self.read_object(found[0]):
            if record.conversation_id == conversation_id:
                return record
        return None

    async def read_object(self, object_name: str) -> list[Record]:
        stored = await self.files.get(object_name)
        return unpack(stored[0]) if stored is not None else []

    async def write(self, records: list[Record], now: datetime) -> str:
        """Store one batch object (before any pointer names it); its id."""
        name = object_id(now)
        await self.files.put(name, pack(records), StoredFile(content_type=CONTENT_TYPE, name=f"{name}.jsonl.gz"))
        return name

    async def move_out(self, record: Record, object_name: str) -> bool:
        """Point at the archive, then delete the live keys if the conversation is unchanged since it was read.

        False (pointer removed again, keys kept) when it changed: a message reopened it meanwhile.
        """
        conversation_id = record.conversation_id
        customer_id = record.fields["customer_id"]
        ck = keys.CustomerKeys(customer_id)
        await self.redis.hset(pointer_key(conversation_id), conversation_id, f"{object_name} {customer_id}")
        version = record.fields.get("index_version", "")
        seen_markers = [key for key, value in (await self._seen(ck)).items()
                        if value.partition(" ")[0] == conversation_id]

        async def attempt(pipe: Pipeline) -> bool:
            current = redisio.text_hash(await pipe.hgetall(ck.conversation(conversation_id)))
            if current.get("status") != "resolved" or current.get("index_version", "") != version:
                return False
            live = redisio.optional_text(await pipe.hget(ck.customer, "live"))
            redisio.multi(pipe)
            pipe.delete(ck.conversation(conversation_id), ck.messages(conversation_id), ck.delivery(conversation_id))
            if live == conversation_id:
                pipe.hdel(ck.customer, "live")  # the next message opens a new conversation
            if seen_markers:
                pipe.hdel(ck.seen, *seen_markers)
                pipe.zrem(ck.seen_at, *seen_markers)
            await pipe.execute()
            return True

        moved = await atomic.watched(self.redis, [ck.conversation(conversation_id), ck.customer], attempt)
        if not moved:
            await self.redis.hdel(pointer_key(conversation_id), conversation_id)
            return False
        if redisio.optional_text(await self.redis.get(keys.conversation_locator(conversation_id))) == customer_id:
            await self.redis.delete(keys.conversation_locator(conversation_id))
        return True

    async def _seen(self, ck: keys.CustomerKeys) -> dict[str, str]:
        return redisio.text_hash(await self.redis.hgetall(ck.seen))

    async def forget(self, conversation_ids: set[str]) -> int:
        """Erase archived conversations: their lines are dropped from each batch object, then their pointers.

        A batch left with no line is deleted; returns how many conversations were removed.
        """
        by_object: dict[str, set[str]] = {}
        for conversation_id in conversation_ids:
            found = await self.pointer(conversation_id)
            if found is not None:
                by_object.setdefault(found[0], set()).add(conversation_id)
        removed = 0
        for object_name, wanted in by_object.items():
            records = await self.read_object(object_name)
            kept = [r for r in records if r.conversation_id not in wanted]
            if kept:
                await self.files.put(object_name, pack(kept),
                                     StoredFile(content_type=CONTENT_TYPE, name=f"{object_name}.jsonl.gz"))
            else:
                await self.files.delete(object_name)
            for conversation_id in wanted:
                await self.redis.hdel(pointer_key(conversation_id), conversation_id)
            removed += len(records) - len(kept)
        return removed
