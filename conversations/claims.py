"""Identity claims: which customer an identity key names, without ever leaving one that names nobody.

An identity is claimed (``SET NX``) before the ingest script creates its customer,
because the customer id picks the Redis slot. If that first ingest fails, the
claim is undone; a claim left by a crash is taken over by the next link, and the
next ingest of that identity creates the customer it names.
"""

from __future__ import annotations

from redis.asyncio import Redis

from conversations import ids, keys, redisio
from conversations.models import CustomerId, Identity

# Compare-and-set / compare-and-delete on one key: never touches a claim someone else made meanwhile.
SET_IF_EQUAL = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2]) end return 0"
DELETE_IF_EQUAL = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


async def claim(redis: Redis, identity: Identity) -> tuple[CustomerId, bool]:
    """The customer an identity belongs to (a new id if unknown), and whether this call claimed it."""
    key = keys.identity(identity.key)
    existing = redisio.optional_text(await redis.get(key))
    if existing:
        return CustomerId(existing), False
    candidate = ids.customer_id()
    if await redis.set(key, candidate, nx=True):
        return CustomerId(candidate), True
    return CustomerId(await _owner(redis, key)), False


async def claim_for(redis: Redis, identity: Identity, customer_id: str) -> CustomerId:
    """Give an unknown identity to ``customer_id``; returns whoever owns it now."""
    key = keys.identity(identity.key)
    if await redis.set(key, customer_id, nx=True):
        return CustomerId(customer_id)
    return CustomerId(await _owner(redis, key))


async def _owner(redis: Redis, identity_key: str) -> str:
    """The customer id a lost ``SET NX`` race left at an identity key."""
    owner = redisio.optional_text(await redis.get(identity_key))
    if owner is None:
        raise RuntimeError(f"{identity_key} was claimed, then vanished")
    return owner


async def unclaim(redis: Redis, identity: Identity, customer_id: str) -> None:
    """Undo a claim whose customer was never created (only while the key still names that id)."""
    if await redis.exists(keys.CustomerKeys(customer_id).customer):
        return  # a concurrent first message created it: the claim stands
    await redis.eval(DELETE_IF_EQUAL, 1, keys.identity(identity.key), customer_id)


async def heal(redis: Redis, identity: Identity, orphan_id: str, customer_id: str) -> CustomerId:
    """An identity claimed for a customer that does not exist goes to ``customer_id``; returns the owner."""
    if await redis.exists(keys.CustomerKeys(orphan_id).customer):
        return CustomerId(orphan_id)
    key = keys.identity(identity.key)
    await redis.eval(SET_IF_EQUAL, 1, key, orphan_id, customer_id)
    return CustomerId(redisio.optional_text(await redis.get(key)) or customer_id)


async def release(redis: Redis, identity_key: str, customer_id: str) -> None:
    """Forget an identity of an erased customer, unless it names someone else by now."""
    await redis.eval(DELETE_IF_EQUAL, 1, keys.identity(identity_key), customer_id)
