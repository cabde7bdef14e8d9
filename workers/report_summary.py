"""Report figures from ``Facts`` rows: filters, medians, percentiles, rates. Pure.

The API, the CLI and the timeseries all compute through ``summarize``, so the
same period and filters give the same numbers everywhere.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from workers.report_facts import CLOCKS, Facts

GROUPS = ("queue", "tier", "channel")


@dataclass(frozen=True, slots=True)
class Filters:
    """Which conversations count: opened in [start_ms, end_ms), and the dimensions given."""

    start_ms: int
    end_ms: int
    queue: str | None = None
    channel: str | None = None
    tier: int | None = None

    def keep(self, facts: Facts) -> bool:
        return (self.start_ms <= facts.opened_ms < self.end_ms
                and (self.queue is None or facts.queue == self.queue)
                and (self.channel is None or facts.channel == self.channel)
                and (self.tier is None or facts.tier == self.tier))


def p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile: the smallest value with at least 90 % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def median(values: list[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count)."""
    return statistics.median(values) if values else None


def _times(wall: list[float], business: list[float]) -> dict[str, Any]:
    return {"median": median(wall), "p90": p90(wall), "count": len(wall),
            "business_median": median(business), "business_p90": p90(business), "business_count": len(business)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(facts: Iterable[Facts]) -> dict[str, Any]:
    """The figures of these conversations (already filtered)."""
    new = reopened = messages_in = messages_out = escalations = transfers = 0
    resolved = first_contact = csat_sent = 0
    frt: list[float] = []
    frt_business: list[float] = []
    resolution: list[float] = []
    resolution_business: list[float] = []
    ratings: list[int] = []
    warnings = [0, 0, 0]
    breaches = [0, 0, 0]
    breached = [0, 0, 0]  # conversations with at least one breach of the clock
    tracked = [0, 0, 0]
    for f in facts:
        new += 1
        reopened += 1 if f.reopens else 0
        messages_in += f.messages_in
        messages_out += f.messages_out
        escalations += f.escalations
        transfers += f.transfers
        if f.first_response is not None:
            frt.append(f.first_response)
        if f.first_response_business is not None:
            frt_business.append(f.first_response_business)
        if f.resolution is not None:
            resolved += 1
            resolution.append(f.resolution)
            first_contact += 1 if f.first_contact_resolved else 0
        if f.resolution_business is not None:
            resolution_business.append(f.resolution_business)
        for i in range(3):
            warnings[i] += f.warnings[i]
            breaches[i] += f.breaches[i]
            breached[i] += 1 if f.breaches[i] else 0
            tracked[i] += f.tracked[i]
        csat_sent += f.csat_sent
        if f.rating is not None:
            ratings.append(f.rating)
    clocks = {
        clock: {"warnings": warnings[i], "breaches": breaches[i], "conversations": tracked[i],
                "compliance": _rate(tracked[i] - breached[i], tracked[i])}
        for i, clock in enumerate(CLOCKS)
    }
    all_tracked = sum(tracked)
    return {
        "conversations": new,
        "volume": {"new": new, "reopened": reopened, "messages_in": messages_in, "messages_out": messages_out},
        "first_response_seconds": _times(frt, frt_business),
        "resolution_seconds": _times(resolution, resolution_business),
        "resolved": resolved,
        "first_contact_resolved": first_contact,
        "fcr_rate": _rate(first_contact, resolved),
        "sla": {"warnings": sum(warnings), "breaches": sum(breaches),
                "compliance": _rate(all_tracked - sum(breached), all_tracked), "clocks": clocks},
        "escalations": escalations,
        "transfers": transfers,
        "csat": {"average": round(statistics.fmean(ratings), 2) if ratings else None, "responses": len(ratings),
                 "sent": csat_sent, "response_rate": _rate(len(ratings), csat_sent)},
    }


def report(rows: Iterable[str], filters: Filters, group_by: str | None = None) -> dict[str, Any]:
    """The summary of the rows that pass ``filters``; with ``group_by``, also one per queue, tier or channel."""
    kept = [f for f in (Facts.from_row(row) for row in rows) if filters.keep(f)]
    result = summarize(kept)
    if group_by is not None:
        groups: dict[str, list[Facts]] = {}
        for f in kept:
            groups.setdefault(str(getattr(f, group_by)) or "(none)", []).append(f)
        result["groups"] = {name: summarize(groups[name]) for name in sorted(groups)}
    return result


def pick(summary: dict[str, Any], metric: str) -> Any:
    """A dotted path of the summary (``volume.new``, ``first_response_seconds.p90``, ``csat.average``)."""
    value: Any = summary
    for part in metric.split("."):
        value = value[part]
    return value


def metric_names() -> list[str]:
    """Every number the summary has, as a dotted path: what ``metric=`` accepts."""
    names: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            names.append(prefix)

    walk("", summarize([]))
    return names


def timeseries(rows: Iterable[str], filters: Filters, metric: str, step_ms: int) -> list[tuple[int, Any]]:
    """``metric`` per interval of ``step_ms`` from ``filters.start_ms`` (each a summary of its own)."""
    kept = [f for f in (Facts.from_row(row) for row in rows) if filters.keep(f)]
    per: dict[int, list[Facts]] = {}
    for f in kept:
        per.setdefault((f.opened_ms - filters.start_ms) // step_ms, []).append(f)
    points = []
    for index in range(math.ceil((filters.end_ms - filters.start_ms) / step_ms)):
        points.append((filters.start_ms + index * step_ms, pick(summarize(per.get(index, [])), metric)))
    return points
