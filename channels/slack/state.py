"""What the gateway remembers about Slack: threads, delivery and action markers (keys in ``keys.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from channels.slack.keys import (
    EVENT_TTL,
    ONCE_TTL,
    conversation_key,
    event_key,
    notices_key,
    once_key,
    thread_key,
)
from conversations import redisio



@dataclass(slots=True)
class ThreadState:
    """Where a conversation's thread is, and how much of the timeline it shows."""

    target: str = ""
    channel: str = ""
    ts: str = ""
    cursor: int = 0
    parent_hash: str = ""
    moving_from: str = ""
    job_queue: str = ""

    @classmethod
    def from_hash(cls, fields: dict[str, str]) -> ThreadState:
        return cls(
            target=fields.get("target", ""), channel=fields.get("channel", ""), ts=fields.get("ts", ""),
            cursor=int(fields.get("cursor") or 0), parent_hash=fields.get("parent_hash", ""),
            moving_from=fields.get("moving_from", ""), job_queue=fields.get("job_queue", ""),
        )


class SlackState:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def thread(self, conversation_id: str) -> ThreadState:
        return ThreadState.from_hash(redisio.text_hash(await self.redis.hgetall(conversation_key(conversation_id))))

    async def save(self, conversation_id: str, **fields: str | int) -> None:
        await self.redis.hset(conversation_key(conversation_id), mapping={k: str(v) for k, v in fields.items()})

    async def new_thread(self, conversation_id: str, *, target: str, channel: str, ts: str, parent_hash: str,
                         moving_from: str = "") -> None:
        """A new parent was posted: the thread starts from the beginning of the timeline.

        One round trip, not a transaction: the three keys hash to different
        slots on a Redis Cluster. The notices go first, so a crash part-way
        leaves the old thread showing a notice twice, never a notice missing.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(notices_key(conversation_id))
            pipe.hset(conversation_key(conversation_id), mapping={
                "target": target, "channel": channel, "ts": ts, "cursor": "0", "parent_hash": parent_hash,
                "moving_from": moving_from,
            })
            pipe.set(thread_key(channel, ts), conversation_id)
            await pipe.execute()

    async def advance(self, conversation_id: str, cursor: int, notices: tuple[str, ...]) -> None:
        """A post went out: move the cursor past what it showed, and remember its notices.

        One round trip, not a transaction (two slots on a Redis Cluster). The
        notices go first: a crash before the cursor moves re-posts the entries
        (as a crash between the post and this call always could), never a notice.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            if notices:
                pipe.sadd(notices_key(conversation_id), *notices)
            pipe.hset(conversation_key(conversation_id), "cursor", str(cursor))
            await pipe.execute()

    async def notices(self, conversation_id: str) -> set[str]:
        return redisio.text_set(await self.redis.smembers(notices_key(conversation_id)))

    async def conversation_for_thread(self, channel: str, ts: str) -> str | None:
        return redisio.optional_text(await self.redis.get(thread_key(channel, ts)))

    async def first_delivery(self, event_id: str) -> bool:
        """True once per Events API ``event_id``: Slack's retries and redeliveries return False."""
        return bool(await self.redis.set(event_key(event_id), "1", nx=True, ex=EVENT_TTL))

    async def forget_delivery(self, event_id: str) -> None:
        await self.redis.delete(event_key(event_id))

    async def once(self, key: str, value: str = "1") -> bool:
        """True the first time ``key`` is claimed; ``value`` records how it was handled."""
        return bool(await self.redis.set(once_key(key), value, nx=True, ex=ONCE_TTL))

    async def handled_as(self, key: str) -> str | None:
        return redisio.optional_text(await self.redis.get(once_key(key)))

    async def handled(self, key: str, value: str) -> None:
        """Record how an action claimed with ``once`` ended (e.g. refused)."""
        await self.redis.set(once_key(key), value, ex=ONCE_TTL)

    async def was_handled(self, key: str) -> bool:
        return bool(await self.redis.exists(once_key(key)))

    async def forget_once(self, key: str) -> None:
        await self.redis.delete(once_key(key))
