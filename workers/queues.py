"""Enqueueing jobs from async code: RQ is synchronous, so calls go to a thread.

A job is named by its function or by its dotted path (``"workers.slack.sync"``);
RQ resolves the name in the worker, so the side that enqueues need not import it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from redis import Redis as SyncRedis
from rq import Queue, Retry
from rq.job import Job

from workers import defaults


class JobQueues:
    def __init__(self, connection: SyncRedis) -> None:
        self.connection = connection
        self._queues: dict[str, Queue] = {}

    def queue(self, name: str) -> Queue:
        if name not in self._queues:
            self._queues[name] = Queue(name, connection=self.connection, default_timeout=defaults.JOB_TIMEOUT)
        return self._queues[name]

    def enqueue_now(
        self,
        queue: str,
        func: Callable[..., Any] | str,
        *args: Any,
        job_id: str | None = None,
        retry: Retry | None = None,
        retry_intervals: Sequence[int] | None = None,
        at: datetime | None = None,
    ) -> Job:
        if retry_intervals:
            retry = Retry(max=len(retry_intervals), interval=list(retry_intervals))
        options: dict[str, Any] = {"job_id": job_id, "retry": retry, "result_ttl": defaults.RESULT_TTL,
                   "failure_ttl": defaults.FAILURE_TTL}
        jobs = self.queue(queue)
        if at is not None:
            scheduled: Job = jobs.enqueue_at(at, func, *args, **options)  # rq leaves enqueue_at unannotated
            return scheduled
        # rq types ``func`` as a constrained TypeVar (a dotted name or a callable): one call per kind.
        if isinstance(func, str):
            return jobs.enqueue(func, *args, **options)
        return jobs.enqueue(func, *args, **options)

    async def enqueue(self, queue: str, func: Callable[..., Any] | str, *args: Any, **options: Any) -> Job:
        return await asyncio.to_thread(self.enqueue_now, queue, func, *args, **options)
