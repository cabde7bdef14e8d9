"""Erasing a customer: every key of their slot, their identities and their conversations' global keys.

For data retention (anonymous web chat visitors nobody heard from in months) and for
``DELETE /api/customers/{id}`` (``workers/customer_data.py`` adds the channels' keys, the
files and the archive). The customer's search terms and opt-out records go too: both
name an address of theirs.
The customer is marked ``erasing`` first and its identities released next: a
message arriving meanwhile (even one whose sender's customer id a web process
remembered, ``identity_cache.py``) is refused by the ingest script and then
starts a new customer, instead of writing into one being erased.
"""

from __future__ import annotations

from redis.asyncio import Redis

from conversations.index import BacklogIndex
from conversations import claims, keys, redisio, search


async def erase_customer(redis: Redis, customer_id: str) -> int:
    """Delete the customer and all it holds; returns how many keys were removed."""
    ck = keys.CustomerKeys(customer_id)
    identities = redisio.text_set(await redis.smembers(ck.identities))
    name = redisio.optional_text(await redis.hget(ck.customer, "name")) or ""
    if await redis.exists(ck.customer):
        await redis.hset(ck.customer, "erasing", "1")
    for identity_key in identities:
        await claims.release(redis, identity_key, customer_id)
    conversation_ids = redisio.texts(await redis.lrange(ck.conversations, 0, -1))
    slot_keys = [ck.customer, ck.identities, ck.conversations, ck.seen, ck.seen_at]
    for conversation_id in conversation_ids:
        slot_keys += [ck.conversation(conversation_id), ck.messages(conversation_id), ck.delivery(conversation_id)]
    removed = 0
    for conversation_id in conversation_ids:
        if redisio.optional_text(await redis.get(keys.conversation_locator(conversation_id))) == customer_id:
            removed += await redis.delete(keys.conversation_locator(conversation_id))
        await BacklogIndex(redis).apply(None, conversation_id)
    for identity_key in identities:
        removed += await redis.delete(keys.opt_out(identity_key))
    # The terms of their current name and identities, and any an older name left behind.
    terms = set(search.term_members(customer_id, name=name, identities=identities))
    async for member, _ in redis.zscan_iter(keys.SEARCH_TERMS, match=f"*{search.SEPARATOR}{customer_id}"):
        terms.add(redisio.text(member))
    if terms:
        await redis.zrem(keys.SEARCH_TERMS, *terms)
    # The customer's own keys last: until then the customer exists and an erasure can run again.
    removed += await redis.delete(*slot_keys)
    return removed
