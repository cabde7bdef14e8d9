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
