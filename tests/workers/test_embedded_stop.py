"""The demo's in-process workers on a stop: every job already queued runs before the process exits.

The demo's Redis lives in the process, so a job left in a queue at exit is
gone; `gateway demo`'s drain promises the queued jobs run first.
"""

from __future__ import annotations

import fakeredis
from rq import Queue
from rq.job import JobStatus

from tests.support import wait_until_sync
from workers import defaults
from workers.embedded import EmbeddedWorkers


def test_a_job_queued_between_passes_runs_before_the_workers_stop():
    connection = fakeredis.FakeRedis()
    workers = EmbeddedWorkers(connection, poll_seconds=30)  # a long pause between passes: the stop comes in it
    queue = Queue(defaults.OUTBOUND, connection=connection)
    workers.start()
    try:
        first = queue.enqueue("operator.add", 1, 2)
        wait_until_sync(lambda: first.get_status(refresh=True) == JobStatus.FINISHED, timeout=30,
                        what="the first pass to run the first job")
        second = queue.enqueue("operator.add", 3, 4)  # queued while the workers wait for their next pass
    finally:
        workers.stop()
    assert second.get_status(refresh=True) == JobStatus.FINISHED and second.return_value() == 7
