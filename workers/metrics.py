"""SLA metrics: counted in Redis, exposed by the web process's ``/metrics``.

Timers fire in worker processes (forked per job, or the sweeper process), so
in-process prometheus counters would be lost or scattered; the counts live
in one Redis hash instead and a collector reads it when ``/metrics`` is
scraped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import REGISTRY

from workers import keys

log = logging.getLogger("gateway.metrics")

METRICS = keys.SLA_METRICS  # hash: "<name>|<label>|<label>" -> count
LATENESS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)


async def record_fire(redis: Any, kind: str, queue: str, clock: str, lateness_seconds: float) -> None:
    name = "warnings" if kind == "warning" else "breaches"
    lateness = max(0.0, lateness_seconds)
    bucket = next((str(b) for b in LATENESS_BUCKETS if lateness <= b), "+Inf")
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hincrby(METRICS, f"{name}|{queue}|{clock}", 1)
        pipe.hincrby(METRICS, f"lateness_bucket|{bucket}", 1)
        pipe.hincrbyfloat(METRICS, "lateness_sum", lateness)
        await pipe.execute()


def count_escalation(connection: Any, trigger: str) -> None:
    connection.hincrby(METRICS, f"escalations|{trigger}", 1)


def families(raw: dict[str, str]) -> list[Any]:
    """Prometheus metric families from the hash (pure, for the collector and tests)."""
    warnings = CounterMetricFamily("gateway_sla_warnings", "SLA warnings fired", labels=["queue", "clock"])
    breaches = CounterMetricFamily("gateway_sla_breaches", "SLA breaches fired", labels=["queue", "clock"])
    escalations = CounterMetricFamily("gateway_escalations", "Escalations to a higher tier", labels=["trigger"])
    buckets: dict[str, float] = {}
    for key, value in raw.items():
        name, *labels = key.split("|")
        if name == "warnings":
            warnings.add_metric(labels, float(value))
        elif name == "breaches":
            breaches.add_metric(labels, float(value))
        elif name == "escalations":
            escalations.add_metric(labels, float(value))
        elif name == "lateness_bucket":
            buckets[labels[0]] = float(value)
    cumulative, running = [], 0.0
    for bound in (*map(str, LATENESS_BUCKETS), "+Inf"):
        running += buckets.get(bound, 0.0)
        cumulative.append((bound, running))
    lateness = HistogramMetricFamily("gateway_sla_timer_lateness_seconds",
                                     "How late SLA timers fired after their deadline")
    lateness.add_metric([], cumulative, sum_value=float(raw.get("lateness_sum", 0.0)))
    return [warnings, breaches, escalations, lateness]


class RedisSlaCollector:
    """Reads the counts at scrape time; one per process, pointed at the current Redis client."""

    def __init__(self) -> None:
        self.client: Any = None

    def describe(self) -> Iterator[Any]:
        return iter(families({}))

    def collect(self) -> Iterator[Any]:
        if self.client is None:
            return iter(())
        try:
            raw = self.client.hgetall(METRICS)
        except Exception:  # a scrape must not fail because Redis blinked
            log.warning("could not read SLA metrics", exc_info=True)
            return iter(())
        decoded = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                   for k, v in raw.items()}
        return iter(families(decoded))


COLLECTOR = RedisSlaCollector()
_registered = False


def expose(sync_client: Any) -> None:
    """Serve the SLA metrics on this process's ``/metrics`` from ``sync_client``."""
    global _registered
    COLLECTOR.client = sync_client
    if not _registered:
        REGISTRY.register(COLLECTOR)
        _registered = True
