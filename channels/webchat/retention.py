"""Anonymous visitors nobody heard from in ``anonymous_retention`` are erased, keys and all.

An anonymous customer is one known by visitor tokens alone. Each of their
messages stamps ``gw:webchat:anonymous``; the sweeper (``workers/sweeper.py``)
calls ``expire_anonymous`` every few minutes. Before erasing, the customer is
read again: one who since got another identity (an admin linked them to a known
person) or who was merged is kept and dropped from the index, and one whose
conversations saw any message (an agent's too) since the cut-off is kept.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from redis.asyncio import Redis

from channels.webchat import keys
from channels.webchat.identity import only_anonymous
from conversations import codec, redisio
from conversations.erase import erase_customer
from conversations.errors import NotFound
from conversations.store import ConversationStore

log = logging.getLogger("gateway.webchat.retention")


async def expire_anonymous(redis: Redis, store: ConversationStore, *, retention: timedelta, now_ms: int,
                           batch: int = 200) -> int:
    """Erase anonymous customers with no message since ``now - retention``; returns how many."""
    cutoff = now_ms - int(retention.total_seconds() * 1000)
    erased = 0
    idle = redisio.members(await redis.zrangebyscore(keys.ANONYMOUS_ACTIVITY, "-inf", cutoff, start=0, num=batch))
    for customer_id in idle:
        try:
            customer = await store.customer(customer_id)
        except NotFound:
            await redis.zrem(keys.ANONYMOUS_ACTIVITY, customer_id)
            continue
        if customer.merged_into or not only_anonymous(customer):
            await redis.zrem(keys.ANONYMOUS_ACTIVITY, customer_id)  # a known person's now: not ours to erase
            continue
        conversations = await store.conversations(await store.customer_conversation_ids(customer_id))
        latest = max((codec.to_ms(c.updated_at) for c in conversations), default=0)
        if latest > cutoff:
            await redis.zadd(keys.ANONYMOUS_ACTIVITY, {customer_id: latest})
            continue
        await erase_customer(redis, customer_id)
        await redis.zrem(keys.ANONYMOUS_ACTIVITY, customer_id)
        erased += 1
    if erased:
        log.info("erased %d anonymous web chat customers idle for %s", erased, retention)
    return erased
