"""`gateway worker` runs its jobs without forking, on one event loop and one set of services it keeps.

A real worker process on a real redis-server: jobs report the process and the
``Services`` object that ran them. After a job RQ stopped with its timeout (a
signal raised wherever the loop was), the next jobs run on fresh ones.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from tests.gateway.proc import GatewayProcess
from tests.support import ROOT, wait_until
from tests.workers.processes import worker_env
from tests.workers.support import write_rules
from workers import defaults


async def test_jobs_share_one_process_and_its_services_and_a_timeout_gets_fresh_ones(redis_url):
    sync = Redis.from_url(redis_url)
    queue = Queue(defaults.OUTBOUND, connection=sync)
    for n in range(3):
        queue.enqueue("tests.workers.probe_jobs.note", f"probe:{n}")
    hung = queue.enqueue("tests.workers.probe_jobs.hang", 60, job_timeout=1, result_ttl=600, failure_ttl=600)
    for n in range(3, 5):
        queue.enqueue("tests.workers.probe_jobs.note", f"probe:{n}")
    worker = GatewayProcess("worker", "--no-sweeper", defaults.OUTBOUND, env=worker_env(redis_url, write_rules()),
                            cwd=ROOT)
    try:
        def noted() -> list[str] | None:
            values = [sync.get(f"probe:{n}") for n in range(5)]
            return None if None in values else [v.decode() for v in values]  # type: ignore[union-attr]

        notes = await wait_until(noted, timeout=60, what="the five probe jobs")
        failed = Job.fetch(hung.id, connection=sync)
        assert failed.get_status() == JobStatus.FAILED
        assert "JobTimeoutException" in (failed.latest_result().exc_string or "")  # type: ignore[union-attr]
        assert worker.process.poll() is None  # the worker lives on after the interrupted job
    finally:
        worker.stop()
    pids = {note.split(":")[0] for note in notes}
    services = [note.split(":")[1] for note in notes]
    assert pids == {str(worker.process.pid)}  # no work horse: the worker itself ran every job
    assert len(set(services[:3])) == 1  # kept from job to job ...
    assert len(set(services[3:])) == 1 and services[3] != services[0]  # ... and new after the interrupted one
    sync.close()
