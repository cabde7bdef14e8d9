"""Recording a delivery that gave up, for the dead-letter list (``failures.py`` lists and retries them).

Apart from listing and retrying because the outbound job records here and
retrying runs the outbound job again: one module each way, no cycle.
"""

from __future__ import annotations

from redis.asyncio import Redis

from conversations.clock import now_ms
from workers import defaults, keys

RETENTION_SECONDS = defaults.FAILURE_TTL


async def record_delivery_failure(redis: Redis, conversation_id: str, message_id: str, error: str) -> str:
    failure_id = f"delivery:{message_id}"
    failed_at = now_ms()
    # One round trip, not a transaction: the list and the details are two slots on a Redis Cluster.
    # Details first; if the process dies before the list entry, they expire unlisted (the
    # delivery's own state still says failed).
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hset(keys.failure(failure_id), mapping={
            "id": failure_id, "kind": "delivery", "conversation_id": conversation_id, "message_id": message_id,
            "error": error, "failed_at": failed_at,
        })
        pipe.expire(keys.failure(failure_id), RETENTION_SECONDS)
        pipe.zadd(keys.FAILURES, {failure_id: failed_at})
        pipe.zremrangebyscore(keys.FAILURES, "-inf", failed_at - RETENTION_SECONDS * 1000)
        await pipe.execute()
    return failure_id
