"""What an operator alerts on, read from Redis when ``/metrics`` is scraped (docs/OPERATIONS.md, "Alerts").

Every figure is one pipelined round trip of O(1)/O(log n) reads with the web
process's async client (a scrape never blocks the event loop), so any web
process's ``/metrics`` shows the whole deployment's state, whichever process
did the work:

- ``gateway_redis_up``: 1 when the scrape could read Redis, 0 otherwise (and nothing else is reported);
- ``gateway_job_queue_length{queue}``: jobs waiting in each RQ job queue;
- ``gateway_jobs_failed{queue}``: jobs in each queue's failed-job registry;
- ``gateway_dead_letters``: deliveries that gave up (``GET /api/failures``);
- ``gateway_outbound_stuck``: conversations with a delivery waiting longer than ``OUTBOUND_STUCK_SECONDS``;
- ``gateway_sla_timers_overdue_seconds``: how far past its deadline the oldest unfired SLA timer is (0: none);
- ``gateway_sweeper_leader``: 1 while a sweeper holds the leader lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry

from conversations import clock
from workers import defaults, keys


def families(state: dict[str, Any] | None) -> list[GaugeMetricFamily]:
    """The gauges from one reading (pure); ``None``: Redis could not be read."""
    up = GaugeMetricFamily("gateway_redis_up", "1 when the metrics scrape could read Redis")
    up.add_metric([], 0.0 if state is None else 1.0)
    if state is None:
        return [up]
    queues = GaugeMetricFamily("gateway_job_queue_length", "Jobs waiting in an RQ job queue", labels=["queue"])
    failed = GaugeMetricFamily("gateway_jobs_failed", "Jobs in an RQ queue's failed-job registry", labels=["queue"])
    for name in defaults.JOB_QUEUES:
        queues.add_metric([name], float(state["queued"][name]))
        failed.add_metric([name], float(state["failed"][name]))
    dead = GaugeMetricFamily("gateway_dead_letters", "Deliveries that gave up, waiting for an operator")
    dead.add_metric([], float(state["dead_letters"]))
    stuck = GaugeMetricFamily("gateway_outbound_stuck", "Conversations with a delivery nobody finished in time")
    stuck.add_metric([], float(state["stuck"]))
    overdue = GaugeMetricFamily("gateway_sla_timers_overdue_seconds",
                                "How late the oldest due SLA timer is (0: none due)")
    overdue.add_metric([], float(state["overdue"]))
    leader = GaugeMetricFamily("gateway_sweeper_leader", "1 while a sweeper holds the leader lock")
    leader.add_metric([], float(state["leader"]))
    return [up, queues, failed, dead, stuck, overdue, leader]


async def read(redis: Any, stuck_seconds: float, now: float | None = None) -> dict[str, Any]:
    """The figures above in one pipelined round trip of the async client."""
    now_ms = clock.now_ms() if now is None else int(now * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        for name in defaults.JOB_QUEUES:
            pipe.llen(f"rq:queue:{name}")
        for name in defaults.JOB_QUEUES:
            pipe.zcard(f"rq:failed:{name}")
        pipe.zcard(keys.FAILURES)
        pipe.zcount(keys.OUTBOUND_PENDING, "-inf", now_ms - int(stuck_seconds * 1000))
        pipe.zrangebyscore(keys.TIMERS, "-inf", now_ms, start=0, num=1, withscores=True)
        pipe.exists(keys.SWEEPER_LEADER)
        results = await pipe.execute()
    count = len(defaults.JOB_QUEUES)
    oldest = results[2 * count + 2]
    return {
        "queued": dict(zip(defaults.JOB_QUEUES, results[:count])),
        "failed": dict(zip(defaults.JOB_QUEUES, results[count:2 * count])),
        "dead_letters": results[2 * count],
        "stuck": results[2 * count + 1],
        "overdue": max(0.0, (now_ms - float(oldest[0][1])) / 1000) if oldest else 0.0,
        "leader": int(results[2 * count + 3]),
    }


class _Families:
    """A collector that hands out families already read (prometheus_client collectors are synchronous)."""

    def __init__(self, found: list[GaugeMetricFamily]) -> None:
        self.found = found

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return iter(self.found)


def exposition(state: dict[str, Any] | None) -> bytes:
    """The gauges in Prometheus text format; ``None``: only ``gateway_redis_up 0``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families(state)))
    return generate_latest(registry)
