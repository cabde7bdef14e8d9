"""Run RQ jobs inside the demo process, on the embedded in-process Redis."""

from __future__ import annotations

import logging
import threading

from redis import Redis as SyncRedis
from rq import Queue, SimpleWorker
from rq.timeouts import TimerDeathPenalty

from workers import defaults

log = logging.getLogger("gateway.embedded")


class ThreadWorker(SimpleWorker):
    """A SimpleWorker that can live in a thread: signals belong to the main thread."""

    death_penalty_class = TimerDeathPenalty  # job timeouts by timer thread, not SIGALRM

    def _install_signal_handlers(self) -> None:
        pass


class EmbeddedWorkers:
    """Polls the job queues in a background thread, running due scheduled jobs too."""

    def __init__(self, connection: SyncRedis, poll_seconds: float = 0.05) -> None:
        self.connection = connection
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="embedded-workers", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        queues = [Queue(name, connection=self.connection) for name in defaults.JOB_QUEUES]
        worker = ThreadWorker(queues, connection=self.connection)
        while True:
            # A pass after the stop too: a job queued during the last wait would otherwise vanish
            # with the in-process Redis at exit (the demo's drain runs the queued jobs first).
            stopping = self._stop.is_set()
            try:
                worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
            except Exception:
                log.exception("embedded worker pass failed")
            if stopping:
                return
            self._stop.wait(self.poll_seconds)
