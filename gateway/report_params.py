"""Reading a report request (API query or CLI options) into filters, or a clear error. Pure.

``from``/``to`` are ISO 8601 instants with a zone (``2026-03-02T09:00:00Z``); the
period is [from, to), by when conversations opened. Defaults: the last 7 days.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from conversations import codec
from conversations.errors import InvalidRequest
from conversations.models import TIERS, Channel
from workers.report_summary import GROUPS, Filters, metric_names

DEFAULT_PERIOD = timedelta(days=7)
MAX_PERIOD = timedelta(days=400)
MAX_POINTS = 2000
INTERVALS = {"hour": 3_600_000, "day": 86_400_000}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SUMMARY_KEYS = frozenset({"from", "to", "queue", "channel", "tier", "group_by"})
SERIES_KEYS = SUMMARY_KEYS - {"group_by"} | {"metric", "interval"}


@dataclass(frozen=True, slots=True)
class ReportQuery:
    filters: Filters
    group_by: str | None = None
    metric: str | None = None
    step_ms: int | None = None


def instant(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 instant such as 2026-03-02T09:00:00Z, got {value!r}") from None
    if moment.tzinfo is None:
        raise InvalidRequest(f"{name} needs a time zone (Z or +01:00), got {value!r}")
    return moment


def parse(query: Mapping[str, str], now: datetime, *, series: bool = False) -> ReportQuery:
    allowed = SERIES_KEYS if series else SUMMARY_KEYS
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise InvalidRequest(f"unknown parameter {unknown[0]!r}; known: {', '.join(sorted(allowed))}")
    end = instant("to", query["to"]) if query.get("to") else now
    start = instant("from", query["from"]) if query.get("from") else end - DEFAULT_PERIOD
    if start >= end:
        raise InvalidRequest("from must be before to")
    if end - start > MAX_PERIOD:
        raise InvalidRequest(f"the period may span at most {MAX_PERIOD.days} days")
    queue = query.get("queue") or None
    if queue is not None and not _NAME.match(queue):
        raise InvalidRequest(f"queue must be a queue name, got {queue!r}")
    channel = query.get("channel") or None
    if channel is not None and channel not in {c.value for c in Channel}:
        raise InvalidRequest(f"channel must be one of {', '.join(c.value for c in Channel)}, got {channel!r}")
    tier: int | None = None
    if query.get("tier"):
        if query["tier"] not in {str(t) for t in TIERS}:
            raise InvalidRequest(f"tier must be one of {', '.join(str(t) for t in TIERS)}, got {query['tier']!r}")
        tier = int(query["tier"])
    filters = Filters(codec.to_ms(start), codec.to_ms(end), queue=queue, channel=channel, tier=tier)
    group_by = query.get("group_by") or None
    if group_by is not None and group_by not in GROUPS:
        raise InvalidRequest(f"group_by must be one of {', '.join(GROUPS)}, got {group_by!r}")
    if not series:
        return ReportQuery(filters, group_by)
    metric = query.get("metric") or ""
    names = metric_names()
    if metric not in names:
        raise InvalidRequest(f"metric must be one of {', '.join(names)}, got {metric!r}")
    interval = query.get("interval") or "hour"
    if interval not in INTERVALS:
        raise InvalidRequest(f"interval must be hour or day, got {interval!r}")
    step = INTERVALS[interval]
    if (filters.end_ms - filters.start_ms) / step > MAX_POINTS:
        raise InvalidRequest(f"at most {MAX_POINTS} points: use a shorter period or interval=day")
    return ReportQuery(filters, metric=metric, step_ms=step)
