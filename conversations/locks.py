"""A Redis lock with an owner token: only its holder refreshes or releases it, and it lapses if the holder dies.

One implementation for every lock the gateway takes (a conversation's
deliveries, a conversation's Slack thread, the sweeper's leadership).
"""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_REFRESH = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
            "end return 0")
# Keep it if we hold it, take it if nobody does: leadership that survives its own renewals.
_HOLD = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
         "elseif redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end return 0")


class RedisLock:
    def __init__(self, redis: Redis, key: str, ttl_seconds: float, token: str | None = None) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = max(1, int(ttl_seconds * 1000))
        self.token = token or secrets.token_hex(8)

    async def acquire(self) -> bool:
        """Take the lock if it is free."""
        return bool(await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms))

    async def hold(self) -> bool:
        """Take the lock if it is free, or extend it if we already hold it."""
        return bool(await self.redis.eval(_HOLD, 1, self.key, self.token, self.ttl_ms))

    async def refresh(self) -> bool:
        """Extend the lock; False when it lapsed and someone else may hold it now."""
        return bool(await self.redis.eval(_REFRESH, 1, self.key, self.token, self.ttl_ms))

    async def release(self) -> bool:
        """Free the lock if we still hold it; False when it had already lapsed."""
        return bool(await self.redis.eval(_RELEASE, 1, self.key, self.token))
