"""``gateway worker``'s loop around RQ: a worker that quit because Redis went away is started again.

RQ's ``Worker.work()`` returns ("unhandled exception, quitting") when the
connection breaks outside its wait for a job. The stand-in workers below
behave like that; the loop and its wait for Redis are the real ones, on a
real redis-server, with the pauses recorded instead of slept.
"""

from __future__ import annotations

import pytest
import redis

from gateway.worker_host import run_worker


class QuittingWorker:
    """Returns from ``work()`` like RQ after a lost connection; asked to stop on the last run."""

    def __init__(self, runs: list[str], stop: bool) -> None:
        self.runs, self.stop = runs, stop
        self._stop_requested = False
        self.birth_date = None

    def work(self, **options: object) -> bool:
        self.birth_date = "registered"
        self.runs.append("work")
        self._stop_requested = self.stop
        return True


def test_a_worker_that_quit_is_started_again_once_redis_answers(redis_url):
    runs: list[str] = []
    pauses: list[float] = []
    made = iter([QuittingWorker(runs, stop=False), QuittingWorker(runs, stop=False), QuittingWorker(runs, stop=True)])
    run_worker(lambda: next(made), redis.Redis.from_url(redis_url), "WARNING", sleep=pauses.append)
    assert runs == ["work", "work", "work"]
    assert len(pauses) == 2 and all(0 < pause <= 5 for pause in pauses)


def test_a_worker_that_never_reached_redis_is_a_set_up_error(redis_url):
    class Unreachable(QuittingWorker):
        def work(self, **options: object) -> bool:
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:1")

    with pytest.raises(redis.exceptions.ConnectionError):
        run_worker(lambda: Unreachable([], stop=False), redis.Redis.from_url(redis_url), "WARNING",
                   sleep=lambda _: None)
