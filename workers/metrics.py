"""SLA metrics: counted in Redis, exposed by the web process's ``/metrics``.

Timers fire in worker processes (forked per job, or the sweeper process), so
in-process prometheus counters would be lost or scattered; the counts live
in one Redis hash instead, which ``/metrics`` reads with the async client
(``read``) and renders (``exposition``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import CollectorRegistry

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


async def count_escalation(redis: Any, trigger: str) -> None:
    await redis.hincrby(METRICS, f"escalations|{trigger}", 1)


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


async def read(redis: Any) -> dict[str, str]:
    """The counts, read with the web process's async client (a scrape never blocks its event loop)."""
    raw = await redis.hgetall(METRICS)
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}


class _Families:
    """A collector that hands out families already read (prometheus_client collectors are synchronous)."""

    def __init__(self, found: list[Any]) -> None:
        self.found = found

    def collect(self) -> Iterator[Any]:
        return iter(self.found)


def exposition(raw: dict[str, str]) -> bytes:
    """The SLA metrics in Prometheus text format, from counts read by ``read``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families(raw)))
    return generate_latest(registry)
