"""Abuse limits of the web chat: frame rates per socket and per visitor token, new conversations per address.

The per-token budget and the per-address count live in Redis, so they hold
across sockets, tabs and web processes. Client addresses come from
``X-Forwarded-For`` only when the peer is a trusted proxy; otherwise anyone
could name any address and dodge the cap.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network

from redis.asyncio import Redis

from channels.webchat import keys
from conversations.clock import now_ms

Network = IPv4Network | IPv6Network

# Token bucket in one step: refill by elapsed time, take one if there is one.
# Processes' clocks differ a little: time never runs backwards for a bucket.
BUCKET = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) / 1000 * rate)
  at = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return allowed
"""


class TokenBucket:
    """Frames per second on one socket, with a burst allowance: the cheap first check, no Redis call."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class VisitorRate:
    """The same budget per visitor token, shared by every socket of that token in every process."""

    def __init__(self, redis: Redis, rate: float, burst: int) -> None:
        self.redis, self.rate, self.burst = redis, rate, burst
        self._bucket = redis.register_script(BUCKET)

    async def take(self, visitor_id: str) -> bool:
        allowed = await self._bucket(keys=[keys.rate(visitor_id)],
                                     args=[self.rate, self.burst, now_ms()])
        return bool(allowed)


class NewConversationCap:
    """At most ``per_hour`` new anonymous conversations per client address per clock hour.

    ``reserve`` before storing, ``release`` when the message did not open one after
    all: concurrent sockets of one address can never pass the cap together.
    """

    def __init__(self, redis: Redis, per_hour: int) -> None:
        self.redis, self.per_hour = redis, per_hour

    @staticmethod
    def _key(address: str) -> str:
        return keys.opened(counted_as(address), now_ms() // 3_600_000)

    async def reserve(self, address: str) -> bool:
        if self.per_hour == 0:
            return True
        key = self._key(address)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 7200)
            count, _ = await pipe.execute()
        if count > self.per_hour:
            await self.redis.decr(key)
            return False
        return True

    async def release(self, address: str) -> None:
        if self.per_hour:
            await self.redis.decr(self._key(address))


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The visitor's address: the peer, or, behind trusted proxies, the last untrusted X-Forwarded-For hop.

    Hops are read from the right (each proxy appends the address it saw), skipping
    trusted proxies; what is left of the first untrusted hop was written by the
    client and is ignored. A malformed hop ends the walk at the last trusted one.
    """
    if not peer:
        return "unknown"
    if not trusted or not forwarded_for or not _trusted(peer, trusted):
        return peer
    address = peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        try:
            ip = ipaddress.ip_address(hop)
        except ValueError:
            return address
        address = str(ip)
        if not _trusted(address, trusted):
            return address
    return address


def counted_as(address: str) -> str:
    """What the per-address cap counts: an IPv4 address, or the /64 an IPv6 address is in.

    One IPv6 subscriber holds a whole /64 (often more): counted per address, one
    home connection could open billions of conversations without meeting the cap.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # "unknown" (no peer): counted as one
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in trusted)
