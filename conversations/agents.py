"""Agents and their API tokens: who is acting, proven by a bearer token.

A token is 256 random bits, shown once when the agent is added and stored only
as its SHA-256 digest: whoever reads Redis (or a backup of it) cannot act as an
agent. A fast hash is enough because the token is random, not a password a
person chose: there is nothing to guess, so a slow hash would only slow down
every API call. Tokens from ``GATEWAY_AGENT_TOKENS`` (operator-managed, e.g. from
a secret store) are checked the same way, by digest, and never stored.

Keys (one hash tag, so the add/remove scripts stay in one Redis Cluster slot):
``gw:{agents}:names`` name → "<sha256>|<created ms>", ``gw:{agents}:tokens`` sha256 → name.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from conversations import codec, keys, redisio
from conversations.clock import utcnow
from conversations.errors import Conflict, InvalidRequest, NotFound

NAMES_KEY = keys.AGENT_NAMES
TOKENS_KEY = keys.AGENT_TOKENS
TOKEN_PREFIX = "gwa_"  # recognisable in a leaked log or a secret scanner
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# Authors the gateway itself writes (or the shared admin token's default); no agent may take them.
RESERVED_NAMES = frozenset({"admin", "gateway", "auto-reply", "verification", "sla", "customer", "system"})
MIN_STATIC_TOKEN = 24  # an operator-chosen token shorter than this is guessable

_ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1
"""

_REMOVE = """
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return 0 end
local digest = string.match(record, '^([^|]*)')
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], digest) == ARGV[1] then redis.call('HDEL', KEYS[2], digest) end
return 1
"""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    """An agent's name: what the timeline and the audit log show as the author."""
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidRequest(f"agent name {name!r}: 1-64 letters, digits or . _ @ -, starting with a letter or digit")
    if name.lower() in RESERVED_NAMES:
        raise InvalidRequest(f"agent name {name!r} is reserved (the gateway writes it as an author itself)")
    return name


def parse_static_tokens(value: str) -> dict[str, str]:
    """``GATEWAY_AGENT_TOKENS``: comma-separated ``name:token`` pairs → {digest: name}.

    Raises ValueError with one line saying which pair is wrong (never echoing a token).
    """
    found: dict[str, str] = {}
    names: set[str] = set()
    for position, pair in enumerate((p.strip() for p in value.split(",")), start=1):
        if not pair:
            continue
        name, colon, token = pair.partition(":")
        if not colon or not name or not token:
            raise ValueError(f"pair {position} is not name:token")
        try:
            check_name(name)
        except InvalidRequest as error:
            raise ValueError(f"pair {position}: {error}") from None
        if name in names:
            raise ValueError(f"pair {position}: agent {name!r} is named twice")
        if len(token) < MIN_STATIC_TOKEN:
            raise ValueError(f"pair {position} ({name}): the token must be at least {MIN_STATIC_TOKEN} characters")
        if digest(token) in found:
            raise ValueError(f"pair {position} ({name}): the same token is given to two agents")
        names.add(name)
        found[digest(token)] = name
    return found


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    source: str  # "redis" (added with `gateway agents add`) or "env" (GATEWAY_AGENT_TOKENS)
    created_at: datetime | None = None

    def public(self) -> dict[str, object]:
        return {"name": self.name, "source": self.source,
                "created_at": self.created_at.isoformat() if self.created_at else None}


class AgentRegistry:
    """Add, list, remove agents; tell which agent a bearer token belongs to."""

    def __init__(self, redis: Redis, static: Mapping[str, str] | None = None) -> None:
        self.redis = redis
        self.static = dict(static or {})  # digest → name, from GATEWAY_AGENT_TOKENS

    async def add(self, name: str) -> str:
        """A new agent; returns its token, the one time it exists in clear."""
        check_name(name)
        if name in self.static.values():
            raise Conflict(f"agent {name!r} is configured in GATEWAY_AGENT_TOKENS")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        added = await self.redis.eval(_ADD, 2, NAMES_KEY, TOKENS_KEY, name, digest(token), str(codec.to_ms(utcnow())))
        if not added:
            raise Conflict(f"agent {name!r} exists; remove it first to issue a new token")
        return token

    async def remove(self, name: str) -> None:
        """The agent's stored token stops working at once (the next request checks Redis)."""
        if not await self.redis.eval(_REMOVE, 2, NAMES_KEY, TOKENS_KEY, name):
            configured = name in self.static.values()
            hint = " (it is configured in GATEWAY_AGENT_TOKENS: remove it there)" if configured else ""
            raise NotFound(f"no agent {name!r} in Redis{hint}")

    async def agents(self) -> list[Agent]:
        stored = redisio.text_hash(await self.redis.hgetall(NAMES_KEY))
        found = [Agent(name, "redis", codec.from_ms(int(record.partition("|")[2] or 0)))
                 for name, record in stored.items()]
        found += [Agent(name, "env") for name in self.static.values()]
        return sorted(found, key=lambda agent: (agent.name, agent.source))

    async def identify(self, token: str) -> str | None:
        """The agent a presented token belongs to, or None.

        Looked up by digest: the digest of a wrong token says nothing about a right one,
        so a dictionary lookup leaks no timing about the stored tokens.
        """
        if not token.startswith(TOKEN_PREFIX) and not self.static:
            return None
        key = digest(token)
        if key in self.static:
            return self.static[key]
        if not token.startswith(TOKEN_PREFIX):
            return None
        return redisio.optional_text(await self.redis.hget(TOKENS_KEY, key))
