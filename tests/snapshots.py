"""Everything stored in Redis, as plain data, to assert that a refused input changed nothing."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

# Keys that change on their own or on any request, not by what a request stores.
VOLATILE_PREFIXES = ("rq:",)


async def snapshot(redis: Redis, *, ignore: tuple[str, ...] = VOLATILE_PREFIXES) -> dict[str, Any]:
    """Key → (type, content) for every key (TTLs left out: they tick)."""
    state: dict[str, Any] = {}
    async for key in redis.scan_iter(count=1000):
        name = key.decode() if isinstance(key, bytes) else key
        if name.startswith(ignore):
            continue
        kind = await redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            value: Any = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(await redis.smembers(key))
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = await redis.xrange(key)
        else:
            value = None
        state[name] = (kind, value)
    return state


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The keys that appeared, disappeared or changed."""
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
