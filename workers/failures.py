"""Dead letters: deliveries that gave up and RQ jobs that failed, listed and retried.

Two sources, one list:
- failed deliveries, recorded by the outbound job (``dead_letters.py``) in
  ``gw:failures`` (zset of ids by time) and ``gw:failures:<id>`` (hash of details);
- failed RQ jobs, read from each job queue's FailedJobRegistry.

Ids say which: ``delivery:<message_id>`` or ``job:<job queue>:<job id>``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis import Redis as SyncRedis
from rq.job import Job
from rq.registry import FailedJobRegistry

from conversations import ids, redisio
from conversations.errors import InvalidRequest, NotFound
from conversations.models import DeliveryStatus
from workers import defaults, keys, outbound
from workers.context import Services


async def list_failures(services: Services, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first: failed deliveries, then failed jobs of every job queue."""
    redis = services.redis
    found: list[dict[str, Any]] = []
    for failure_id in redisio.members(await redis.zrevrange(keys.FAILURES, 0, limit - 1)):
        fields = redisio.text_hash(await redis.hgetall(keys.failure(failure_id)))
        if fields:
            found.append({**fields, "failed_at": int(fields.get("failed_at") or 0), "retryable": True})
    found.extend(await asyncio.to_thread(_failed_jobs, services.sync_redis, limit))
    found.sort(key=lambda f: f["failed_at"], reverse=True)
    return found[:limit]


def _failed_jobs(connection: SyncRedis, limit: int) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    for name in defaults.JOB_QUEUES:
        registry = FailedJobRegistry(name, connection=connection)
        for job_id in registry.get_job_ids(0, limit - 1):
            job = Job.fetch(job_id, connection=connection) if _exists(job_id, connection) else None
            if job is None:
                continue
            ended = job.ended_at.timestamp() if job.ended_at else 0
            result = job.latest_result()
            jobs.append({
                "id": f"job:{name}:{job_id}", "kind": "job", "queue": name, "job_id": job_id,
                "function": job.func_name, "args": [str(a) for a in job.args],
                "error": (result.exc_string if result else "") or "",
                "failed_at": int(ended * 1000), "retryable": True,
            })
    return jobs


def _exists(job_id: str, connection: SyncRedis) -> bool:
    return bool(connection.exists(Job.key_for(job_id)))


async def retry(services: Services, failure_id: str) -> dict[str, Any]:
    """Try a failed delivery or job again; the failure leaves the list."""
    kind, _, rest = failure_id.partition(":")
    if kind == "delivery":
        return await _retry_delivery(services, failure_id)
    if kind == "job":
        queue, _, job_id = rest.partition(":")
        if queue not in defaults.JOB_QUEUES or not job_id:
            raise NotFound(f"no failure {failure_id}")
        await asyncio.to_thread(_requeue_job, services.sync_redis, queue, job_id, failure_id)
        return {"id": failure_id, "retried": True}
    raise InvalidRequest(f"failure ids start with delivery: or job:, not {failure_id!r}")


async def _retry_delivery(services: Services, failure_id: str) -> dict[str, Any]:
    fields = redisio.text_hash(await services.redis.hgetall(keys.failure(failure_id)))
    if not fields:
        raise NotFound(f"no failure {failure_id}")
    conversation_id, message_id = fields["conversation_id"], fields["message_id"]
    await services.redis.delete(keys.outbound_attempts(message_id))
    await services.service.record_delivery(conversation_id, message_id, DeliveryStatus.QUEUED, force=True,
                                          error="retried from the dead-letter list")
    await outbound.mark_pending(services.redis, conversation_id)
    await services.jobs.enqueue(defaults.OUTBOUND, outbound.deliver, conversation_id, message_id,
                               job_id=f"deliver-{message_id}-manual-{ids.new_id('retry')}")
    await services.redis.zrem(keys.FAILURES, failure_id)
    await services.redis.delete(keys.failure(failure_id))
    return {"id": failure_id, "retried": True, "conversation_id": conversation_id, "message_id": message_id}


def _requeue_job(connection: SyncRedis, queue: str, job_id: str, failure_id: str) -> None:
    registry = FailedJobRegistry(queue, connection=connection)
    if job_id not in registry.get_job_ids():
        raise NotFound(f"no failure {failure_id}")
    registry.requeue(job_id)  # back on its job queue; the workers take it from there
