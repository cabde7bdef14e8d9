"""``gateway worker``'s RQ worker: patient and quiet while Redis is away, a warm stop on SIGTERM.

RQ on its own, with Redis gone, logs a line every two seconds from its
command thread, lets its scheduler process die with a traceback, and quits
the work loop with a traceback when a suspension check or registry clean-up
hits the dead connection. Here every Redis round trip of the work loop waits
the outage out with bounded, jittered back-off (``conversations.backoff``),
the worker logs one line when Redis goes and one when it comes back, and if
the work loop still ends without a stop request the worker is started
again once Redis answers, in the same process.

A stop requested before RQ installed its own signal handlers (the gateway
catches SIGTERM/SIGINT from its first line) becomes RQ's warm stop: the job
in progress finishes, then the worker exits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol, TypeVar

from redis import Redis
from rq import Queue, SimpleWorker
from rq.scheduler import RQScheduler

from conversations.backoff import OUTAGE_ERRORS, Outage

log = logging.getLogger("gateway.worker")
T = TypeVar("T")

LOOK_AROUND_SECONDS = 5  # how long an idle worker blocks on its queues before looking after its scheduler
# RQ's own per-retry line; the Outage that the worker shares says it once per outage instead.
_RQ_RETRY_LINE = "could not connect to Redis instance"


class PatientScheduler(RQScheduler):
    """RQ's scheduler process, waiting out an outage instead of dying with a traceback.

    It runs in its own (forked) process; its outage lines are debug-level, the
    worker beside it already says when Redis goes and comes back.
    """

    def work(self) -> None:
        self._install_signal_handlers()
        outage = Outage(log, "scheduler", "Redis", level=logging.DEBUG)
        born = False
        while not self._stop_requested:
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                outage.recovered()
                delay = float(self.interval)
            except OUTAGE_ERRORS as error:
                delay = outage.failed(error)
            time.sleep(delay)
        with suppress(*OUTAGE_ERRORS):
            self.stop()


class GatewayWorker(SimpleWorker):
    """An RQ worker whose Redis calls in the work loop wait an outage out (see the module doc).

    It runs each job in its own process, on the event loop and services it keeps
    for all its jobs (``workers.context.JobLoop``), instead of RQ's default fork per
    job: measured with ``benchmarks/end_to_end.py`` (docs/PERFORMANCE.md), the fork
    and a fresh set of clients per job cost more than the jobs' own work, and one
    worker per queue fell behind at 10 messages/s. Job timeouts still apply (RQ's
    SIGALRM in this main thread); a job that times out gets a new loop after it.

    It also looks after its scheduler. RQ's scheduler is a process of its own
    that exits on a lost connection; RQ starts it again only in its maintenance,
    every ``GATEWAY_WORKER__MAINTENANCE_INTERVAL_SECONDS`` and only once the
    worker comes back from waiting on its queues (up to 405 s when idle), so
    scheduled jobs (delivery retries, paused Slack syncs) would wait that long
    after a Redis restart. This worker waits on its queues 5 s at a time and
    starts a scheduler that died at the next turn; its lock is its own, so it
    reclaims it.
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

    def __init__(self, *args: Any, outage: Outage, stop_requested: Callable[[], bool] = lambda: False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outage = outage
        self.stop_requested_early = stop_requested
        self.stopping = False
        self._command_outage = Outage(log, "worker command channel", outage.address, level=logging.DEBUG)

    # -- waiting Redis out ---------------------------------------------------------------

    def _patiently(self, call: Callable[[], T]) -> T:
        while True:
            try:
                result = call()
            except OUTAGE_ERRORS as error:
                time.sleep(self.outage.failed(error))  # a stop signal raises out of the sleep
                continue
            self.outage.recovered()
            return result

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        if pipeline is not None:  # part of someone else's transaction: theirs to retry
            return super().heartbeat(timeout, pipeline)
        return self._patiently(lambda: super(GatewayWorker, self).heartbeat(timeout, pipeline))

    def check_for_suspension(self, burst: bool) -> None:
        return self._patiently(lambda: super(GatewayWorker, self).check_for_suspension(burst))

    def run_maintenance_tasks(self) -> None:
        return self._patiently(lambda: super(GatewayWorker, self).run_maintenance_tasks())

    def _pubsub_exception_handler(self, exc: Exception, pubsub: Any, pubsub_thread: Any) -> None:
        # RQ's command channel (a thread): reconnect quietly, with the same kind of back-off.
        if isinstance(exc, OUTAGE_ERRORS):
            time.sleep(self._command_outage.failed(exc))
            return
        super()._pubsub_exception_handler(exc, pubsub, pubsub_thread)

    def _start_scheduler(self, burst: bool = False, logging_level: str | None = "INFO",
                         date_format: str = "", log_format: str = "") -> None:
        # As RQ's, with the patient scheduler class (RQ has no hook for it).
        self.scheduler = PatientScheduler(self.queues, connection=self.connection,
                                          logging_level=logging_level if logging_level is not None else self.log.level,
                                          serializer=self.serializer)
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def teardown(self) -> None:
        with suppress(*OUTAGE_ERRORS):  # Redis may be the reason we stop; the registration expires by itself
            super().teardown()

    # -- stopping --------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        if self.stop_requested_early():
            # Signalled before RQ listened: the loop stops at its first check, before taking a job.
            self.stopping = True
            self._stop_requested = True

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stopping = True
        super().request_stop(signum, frame)

    def request_force_stop(self, signum: Any, frame: Any) -> None:
        self.stopping = True
        super().request_force_stop(signum, frame)


class _QuietRetries(logging.Filter):
    """Turns RQ's "could not connect … retrying" line into the shared outage's one line per state change."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        if _RQ_RETRY_LINE not in str(record.msg):
            return True
        error = record.args[1] if isinstance(record.args, tuple) and len(record.args) > 1 else record.getMessage()
        self.outage.failed(error if isinstance(error, BaseException) else ConnectionError(str(error)))
        return False


class StopFlag(Protocol):
    """The process's stop signals (the gateway's): whether one came, and putting its handlers back."""

    @property
    def requested(self) -> bool: ...

    def install(self) -> None: ...


def run(connection: Redis, queue_names: list[str], *, address: str, maintenance_interval: int,
        logging_level: str, stop: StopFlag) -> None:
    """Work the queues until stopped by a signal; restart the RQ worker in-process if it ends on an outage."""

    def stop_requested() -> bool:
        return stop.requested

    outage = Outage(log, "worker", address)
    quiet = _QuietRetries(outage)
    logging.getLogger("rq.worker").addFilter(quiet)
    try:
        while True:
            worker = GatewayWorker([Queue(name, connection=connection) for name in queue_names], connection=connection,
                                   maintenance_interval=maintenance_interval, outage=outage,
                                   stop_requested=stop_requested)
            try:
                worker.work(with_scheduler=True, logging_level=logging_level)
            except OUTAGE_ERRORS as error:  # before the loop: registering the worker, starting the scheduler
                delay = outage.failed(error)
            else:
                if worker.stopping or stop_requested():
                    return
                delay = outage.backoff.next_delay()
                log.warning("worker: RQ's work loop ended without a stop request; starting it again")
            stop.install()  # RQ's handlers belong to the worker that ended
            if _wait_for(connection, outage, delay, stop_requested):
                return
    finally:
        logging.getLogger("rq.worker").removeFilter(quiet)


def _wait_for(connection: Redis, outage: Outage, delay: float, stop_requested: Callable[[], bool]) -> bool:
    """Sleep out the back-off until Redis answers a PING; True if a stop was requested meanwhile."""
    while True:
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if stop_requested():
                return True
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        try:
            connection.ping()
        except OUTAGE_ERRORS as error:
            delay = outage.failed(error)
            continue
        outage.recovered()
        return False

