"""Waiting out a dead Redis: bounded, jittered waits and one log line per state change (conversations/backoff.py)."""

from __future__ import annotations

import logging
import random

from redis.exceptions import ConnectionError as RedisConnectionError

from conversations.backoff import Backoff, Outage


def test_the_waits_double_up_to_the_cap_each_drawn_between_half_and_all_of_it():
    backoff = Backoff(base=0.5, cap=5.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(40)]
    ceilings = [min(5.0, 0.5 * 2 ** n) for n in range(40)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True)), list(zip(delays, ceilings))
    assert max(delays) <= 5.0  # bounded: an outage of any length is retried at least every 5 s
    assert len({round(d, 6) for d in delays[5:]}) > 30  # jittered: at the cap the waits still differ
    backoff.reset()
    assert backoff.next_delay() <= 0.5  # a new outage starts again from the shortest wait


def test_processes_that_fail_together_do_not_retry_in_step():
    first, second = Backoff(rng=random.Random(1)), Backoff(rng=random.Random(2))
    assert [first.next_delay() for _ in range(8)] != [second.next_delay() for _ in range(8)]


def test_an_outage_is_one_line_when_it_starts_and_one_when_it_ends(caplog):
    now = [100.0]
    outage = Outage(logging.getLogger("gateway.test"), "sweeper", "10.0.0.7:6379", clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="gateway.test"):
        for _ in range(50):  # fifty failed attempts
            outage.failed(RedisConnectionError("Connection refused."))
            now[0] += 1
        outage.recovered()
        outage.recovered()  # a success while up says nothing
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["sweeper: Redis at 10.0.0.7:6379 unreachable (Connection refused.); retrying with back-off "
                     "(at most 5s apart)",
                     "sweeper: Redis at 10.0.0.7:6379 reachable again after 50.0s (50 failed attempts)"]
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.INFO]
