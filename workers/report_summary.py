"""Report figures from ``Facts`` rows: filters, aggregates, medians, percentiles, rates. Pure.

An ``Aggregate`` holds what the figures need of a set of conversations: counts
and sums, and every first response and resolution time (so medians and
percentiles are exact, not estimated). Aggregates merge, so an hour's
aggregate (cached by ``report_store``) and a few rows add up to the same
figures as all the rows one by one. The API, the CLI and the timeseries all
compute through here.
"""

from __future__ import annotations

import base64
import json
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from workers.report_facts import CLOCKS, Facts

GROUPS = ("queue", "tier", "channel")
_COUNTERS = ("new", "reopened", "messages_in", "messages_out", "escalations", "transfers", "resolved",
             "first_contact", "csat_sent", "ratings", "rating_sum")
_TRIPLES = ("warnings", "breaches", "breached", "tracked")
_TIMES = ("frt", "frt_business", "resolution", "resolution_business")


@dataclass(frozen=True, slots=True)
class Filters:
    """Which conversations count: opened in [start_ms, end_ms), and the dimensions given."""

    start_ms: int
    end_ms: int
    queue: str | None = None
    channel: str | None = None
    tier: int | None = None

    def keep(self, facts: Facts) -> bool:
        return self.start_ms <= facts.opened_ms < self.end_ms and self.keep_group(facts.queue, facts.tier,
                                                                                   facts.channel)

    def keep_group(self, queue: str, tier: int, channel: str) -> bool:
        return ((self.queue is None or queue == self.queue) and (self.channel is None or channel == self.channel)
                and (self.tier is None or tier == self.tier))


def group_key(queue: str, tier: int, channel: str) -> str:
    return f"{queue}|{tier}|{channel}"


def split_group(key: str) -> tuple[str, int, str]:
    queue, tier, channel = key.split("|")
    return queue, int(tier), channel


# An aggregate's integers, in this order: the counters, then warnings, breaches, breached (conversations
# with a breach) and tracked (conversations whose policy runs the clock) per clock of CLOCKS.
_INTS = _COUNTERS + tuple(f"{name}.{clock}" for name in _TRIPLES for clock in CLOCKS)
_AT = {name: index for index, name in enumerate(_INTS)}
_TRIPLE_AT = {name: _AT[f"{name}.{CLOCKS[0]}"] for name in _TRIPLES}


@dataclass
class Aggregate:
    """Counts, sums and time values of some conversations; ``add`` one, ``merge`` another aggregate."""

    ints: list[int] = field(default_factory=lambda: [0] * len(_INTS))
    times: list[array[float]] = field(default_factory=lambda: [array("d") for _ in _TIMES])

    def add(self, f: Facts) -> None:
        v, at = self.ints, _AT
        v[at["new"]] += 1
        v[at["reopened"]] += 1 if f.reopens else 0
        v[at["messages_in"]] += f.messages_in
        v[at["messages_out"]] += f.messages_out
        v[at["escalations"]] += f.escalations
        v[at["transfers"]] += f.transfers
        v[at["csat_sent"]] += f.csat_sent
        if f.resolution is not None:
            v[at["resolved"]] += 1
            v[at["first_contact"]] += 1 if f.first_contact_resolved else 0
        if f.rating is not None:
            v[at["ratings"]] += 1
            v[at["rating_sum"]] += f.rating
        for index, value in enumerate((f.first_response, f.first_response_business, f.resolution,
                                       f.resolution_business)):
            if value is not None:
                self.times[index].append(value)
        for name, values in (("warnings", f.warnings), ("breaches", f.breaches),
                             ("breached", tuple(1 if b else 0 for b in f.breaches)), ("tracked", f.tracked)):
            base = _TRIPLE_AT[name]
            for i in range(3):
                v[base + i] += values[i]

    def merge(self, ints: list[int], times: list[array[float]]) -> None:
        mine = self.ints
        for i, value in enumerate(ints):
            mine[i] += value
        for index, values in enumerate(times):
            self.times[index].extend(values)

    def _count(self, name: str) -> int:
        return self.ints[_AT[name]]

    def _triple(self, name: str) -> list[int]:
        base = _TRIPLE_AT[name]
        return self.ints[base:base + 3]

    def figures(self) -> dict[str, Any]:
        c = self._count
        warnings, breaches = self._triple("warnings"), self._triple("breaches")
        breached, tracked = self._triple("breached"), self._triple("tracked")
        clocks = {
            clock: {"warnings": warnings[i], "breaches": breaches[i], "conversations": tracked[i],
                    "compliance": _rate(tracked[i] - breached[i], tracked[i])}
            for i, clock in enumerate(CLOCKS)
        }
        ratings = c("ratings")
        return {
            "conversations": c("new"),
            "volume": {"new": c("new"), "reopened": c("reopened"), "messages_in": c("messages_in"),
                       "messages_out": c("messages_out")},
            "first_response_seconds": _times(self.times[0], self.times[1]),
            "resolution_seconds": _times(self.times[2], self.times[3]),
            "resolved": c("resolved"),
            "first_contact_resolved": c("first_contact"),
            "fcr_rate": _rate(c("first_contact"), c("resolved")),
            "sla": {"warnings": sum(warnings), "breaches": sum(breaches),
                    "compliance": _rate(sum(tracked) - sum(breached), sum(tracked)), "clocks": clocks},
            "escalations": c("escalations"),
            "transfers": c("transfers"),
            "csat": {"average": round(c("rating_sum") / ratings, 2) if ratings else None,
                     "responses": ratings, "sent": c("csat_sent"),
                     "response_rate": _rate(ratings, c("csat_sent"))},
        }


def encode_hour(groups: dict[str, Aggregate], version: str | None) -> str:
    """An hour's aggregates as one JSON text: per group its integers and time counts; all times in one base64."""
    values = array("d")
    shape: dict[str, list[int]] = {}
    for key, aggregate in groups.items():
        shape[key] = aggregate.ints + [len(t) for t in aggregate.times]
        for times in aggregate.times:
            values.extend(times)
    return json.dumps({"version": version, "groups": shape, "times": base64.b64encode(values.tobytes()).decode()},
                      separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class HourGroups:
    """A decoded hour: each group's integers and its slices of the hour's times."""

    version: str | None
    groups: dict[str, tuple[list[int], list[array[float]]]]


def decode_hour(text: str) -> HourGroups:
    data = json.loads(text)
    values = array("d")
    values.frombytes(base64.b64decode(data["times"]))
    groups = {}
    offset = 0
    width = len(_INTS)
    for key, shape in data["groups"].items():
        ints, lengths = shape[:width], shape[width:]
        slices = []
        for length in lengths:
            slices.append(values[offset:offset + length])
            offset += length
        groups[key] = (ints, slices)
    return HourGroups(data["version"], groups)


def p90(ordered: list[float]) -> float | None:
    """Nearest-rank 90th percentile of sorted values: the smallest with at least 90 % at or below it."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def median(ordered: list[float]) -> float | None:
    """The middle of sorted values (the mean of the two middle ones for an even count)."""
    n = len(ordered)
    if not n:
        return None
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _times(wall: Iterable[float], business: Iterable[float]) -> dict[str, Any]:
    w, b = sorted(wall), sorted(business)
    return {"median": median(w), "p90": p90(w), "count": len(w),
            "business_median": median(b), "business_p90": p90(b), "business_count": len(b)}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def summarize(facts: Iterable[Facts]) -> dict[str, Any]:
    """The figures of these conversations (already filtered)."""
    total = Aggregate()
    for f in facts:
        total.add(f)
    return total.figures()


def by_group(facts: Iterable[Facts]) -> dict[str, Aggregate]:
    """One aggregate per queue|tier|channel: what an hour bucket caches."""
    groups: dict[str, Aggregate] = {}
    for f in facts:
        key = group_key(f.queue, f.tier, f.channel)
        if key not in groups:
            groups[key] = Aggregate()
        groups[key].add(f)
    return groups


class Collector:
    """Adds up group aggregates (cached hours) and single rows (partial hours) that pass the filters."""

    def __init__(self, filters: Filters, group_by: str | None = None) -> None:
        self.filters = filters
        self.group_by = group_by
        self.total = Aggregate()
        self.groups: dict[str, Aggregate] = {}

    def add_groups(self, hour: HourGroups) -> None:
        for key, (ints, times) in hour.groups.items():
            queue, tier, channel = split_group(key)
            if self.filters.keep_group(queue, tier, channel):
                self.total.merge(ints, times)
                if self.group_by is not None:
                    self._group(queue, tier, channel).merge(ints, times)

    def add_rows(self, rows: Iterable[Facts]) -> None:
        for f in rows:
            if self.filters.keep(f):
                self.total.add(f)
                if self.group_by is not None:
                    self._group(f.queue, f.tier, f.channel).add(f)

    def _group(self, queue: str, tier: int, channel: str) -> Aggregate:
        value = {"queue": queue, "tier": str(tier), "channel": channel}[self.group_by or "queue"] or "(none)"
        if value not in self.groups:
            self.groups[value] = Aggregate()
        return self.groups[value]

    def report(self) -> dict[str, Any]:
        result = self.total.figures()
        if self.group_by is not None:
            result["groups"] = {name: self.groups[name].figures() for name in sorted(self.groups)}
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
