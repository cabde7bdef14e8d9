"""SLA deadlines of one conversation: a pure function of its policy, calendar and timeline.

Nothing here is incremental state. Every time something happens the
deadlines are computed again from the whole timeline (the customer's and the
agents' messages, resolve/reopen events) and the restart marks escalations
leave on the conversation, so a crashed process, a lost event or a re-routed
conversation can always be reconciled by computing once more.

Clocks:
- ``first_response``: from the conversation's start (or its last restart)
  until the first agent reply after it. Automatic replies do not count.
- ``next_response``: from the customer's first message after an agent reply
  until the next agent reply.
- ``resolution``: from the start (or restart) until resolved, counting only
  the time the conversation is open: it pauses while waiting on the customer
  (if the policy says so) and while resolved.

All three count business time in the policy's calendar (``None`` = 24/7).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from conversations.models import Direction, Message
from conversations.ratings import ANSWER_KIND
from router import Calendar, add_business_time, business_time_between

CLOCKS = ("first_response", "next_response", "resolution")
KINDS = ("warning", "breach")
# Event kinds on the timeline that stop and restart the resolution clock.
STOPS = frozenset({"resolved"})
STARTS = frozenset({"reopened"})


class Policy(Protocol):
    """What the rule file's ``SlaPolicy`` gives: targets, calendar name, pause flag, warning share."""

    @property
    def name(self) -> str: ...
    def target(self, clock: str) -> timedelta | None: ...
    @property
    def pause_while_pending(self) -> bool: ...
    @property
    def warning_at(self) -> float: ...


class BusinessTime(Protocol):
    """``router.calendar``'s two functions, bound to one calendar (or 24/7)."""

    def add(self, start: datetime, duration: timedelta) -> datetime: ...

    def between(self, start: datetime, end: datetime) -> timedelta: ...


@dataclass(frozen=True, slots=True)
class Deadline:
    """One running clock: when it warns and when it is breached."""

    clock: str
    warning: datetime | None
    breach: datetime

    def at(self, kind: str) -> datetime | None:
        return self.warning if kind == "warning" else self.breach


Segment = tuple[datetime, datetime | None]  # a running stretch; ``None`` = still running


def is_agent_reply(message: Message) -> bool:
    return message.direction == Direction.OUTBOUND and message.meta.get("automatic") != "1"


def is_customer_request(message: Message) -> bool:
    """A customer message that waits on an agent: not the answer to a satisfaction survey."""
    return message.direction == Direction.INBOUND and message.kind != ANSWER_KIND


def plan(
    policy: Policy,
    business: BusinessTime,
    timeline: Sequence[Message],
    started_at: datetime,
    restarts: Mapping[str, datetime] | None = None,
) -> dict[str, Deadline]:
    """The deadlines of every clock that is running now.

    Args:
        policy: targets and behaviour; a clock without a target never runs.
        business: business-time arithmetic of the policy's calendar.
        timeline: the conversation's messages in accepted order.
        started_at: when the conversation started (its first customer message).
        restarts: clock → when an escalation restarted it.

    Returns:
        clock name → Deadline, only for clocks that are running.
    """
    restarts = restarts or {}
    deadlines: dict[str, Deadline] = {}
    for clock in CLOCKS:
        target = policy.target(clock)
        if target is None:
            continue
        start = max(started_at, restarts.get(clock, started_at))
        segments = _segments(clock, policy, timeline, start)
        if not segments or segments[-1][1] is not None:
            continue  # answered, paused or resolved: nothing to arm
        breach = crossing(segments, target, business)
        warning = crossing(segments, target * policy.warning_at, business) if 0 < policy.warning_at < 1 else None
        if breach is not None:
            deadlines[clock] = Deadline(clock, warning, breach)
    return deadlines


def _segments(clock: str, policy: Policy, timeline: Sequence[Message], start: datetime) -> list[Segment]:
    after = [m for m in timeline if m.created_at >= start]
    if clock == "first_response":
        answered = next((m for m in after if is_agent_reply(m)), None)
        return [(start, answered.created_at if answered else None)]
    if clock == "next_response":
        return _next_response(timeline, start)
    return _resolution(policy, after, start)


def _next_response(timeline: Sequence[Message], start: datetime) -> list[Segment]:
    """Runs from the customer's first message after an agent reply; only after a first reply."""
    waiting_since: datetime | None = None
    replied = False
    for message in timeline:
        if is_agent_reply(message):
            replied, waiting_since = True, None
        elif is_customer_request(message) and replied and waiting_since is None:
            waiting_since = message.created_at
    if waiting_since is None:
        return []
    return [(max(waiting_since, start), None)]


def _resolution(policy: Policy, timeline: Sequence[Message], start: datetime) -> list[Segment]:
    segments: list[Segment] = []
    running_since: datetime | None = start
    for message in timeline:
        at = message.created_at
        stops = message.kind in STOPS or (policy.pause_while_pending and is_agent_reply(message))
        starts = is_customer_request(message) or message.kind in STARTS
        if stops and running_since is not None:
            segments.append((running_since, at))
            running_since = None
        elif starts and running_since is None:
            running_since = at
    if running_since is not None:
        segments.append((running_since, None))
    return segments


def crossing(segments: Sequence[Segment], amount: timedelta, business: BusinessTime) -> datetime | None:
    """The instant at which the segments have used ``amount`` of business time (None: not yet, paused)."""
    used = timedelta(0)
    for begin, end in segments:
        if end is None:
            return business.add(begin, amount - used)
        spent = business.between(begin, end)
        if used + spent >= amount:
            return business.add(begin, amount - used)
        used += spent
    return None


def restarts_from(extra: Mapping[str, str], to_datetime: Callable[[str], datetime | None]) -> dict[str, datetime]:
    """The ``sla_<clock>_restarted_at`` marks escalations leave on the conversation."""
    found: dict[str, datetime] = {}
    for clock in CLOCKS:
        value = extra.get(f"sla_{clock}_restarted_at")
        at = to_datetime(value) if value else None
        if at is not None:
            found[clock] = at
    return found


@dataclass(frozen=True, slots=True)
class CalendarTime:
    """Business time of one ``router.calendar.Calendar`` (``None`` = always open)."""

    calendar: Calendar | None = None

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return add_business_time(start, duration, self.calendar)

    def between(self, start: datetime, end: datetime) -> timedelta:
        return business_time_between(start, end, self.calendar)
