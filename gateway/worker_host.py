"""``gateway worker``'s main loop: RQ's worker, started again when Redis went away under it.

RQ rides out a lost connection only while it waits for a job; a connection
error anywhere else (its heartbeat, its maintenance, registering itself)
makes ``Worker.work()`` log "unhandled exception, quitting" and return. A
process manager would restart the worker, but it should not have to: this
loop waits until Redis answers again (bounded back-off with jitter) and
starts a fresh worker, so a Redis restart or failover needs nobody.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError
from rq import Worker

log = logging.getLogger("gateway.worker")

FIRST_WAIT = 0.2
LONGEST_WAIT = 5.0
LOOK_AROUND_SECONDS = 5  # how long an idle worker blocks on its queues before looking after its scheduler


class GatewayWorker(Worker):
    """RQ's worker, looking after its scheduler.

    RQ's scheduler is a process of its own that exits on a lost connection;
    RQ starts it again only in its maintenance, every
    ``GATEWAY_WORKER__MAINTENANCE_INTERVAL_SECONDS`` and only once the worker
    comes back from waiting on its queues (up to 405 s when idle). Scheduled
    jobs (delivery retries, paused Slack syncs) would wait that long after a
    Redis restart. This worker waits on its queues 5 s at a time and starts a
    scheduler that died at the next turn; its lock is its own, so it reclaims it.
    """

    @property
    def dequeue_timeout(self) -> int:
        return LOOK_AROUND_SECONDS

    @property
    def should_run_maintenance_tasks(self) -> bool:
        process = self.scheduler._process if self.scheduler is not None else None
        if self.last_cleaned_at is not None and process is not None and not process.is_alive():
            return True
        return bool(super().should_run_maintenance_tasks)


def run_worker(make_worker: Callable[[], Worker], connection: Redis, logging_level: str,
               *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Run workers until one stops on request (SIGTERM, SIGINT); returns then."""
    started = False
    while True:
        worker: Worker | None = None
        try:
            worker = make_worker()
            worker.work(with_scheduler=True, logging_level=logging_level)
        except RedisError:
            if not (started or (worker is not None and worker.birth_date is not None)):
                raise  # never reached Redis: a set-up problem, not an outage
        started = True
        if worker is not None and worker._stop_requested:
            return
        log.warning("the worker stopped without being asked to (Redis went away?); starting it again once Redis answers")
        wait_for_redis(connection, sleep=sleep)


def wait_for_redis(connection: Redis, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """Block until ``connection`` answers PING; one line when it does, not one per try."""
    wait = FIRST_WAIT
    started = time.monotonic()
    while True:
        sleep(wait * random.uniform(0.5, 1.0))  # jitter: a fleet of workers does not come back in step
        wait = min(wait * 2, LONGEST_WAIT)
        try:
            if connection.ping():
                log.warning("Redis answers again after %.1f s", time.monotonic() - started)
                return
        except RedisError:
            pass
