"""Business-time arithmetic: opening hours, holidays and DST, nothing else.

SLA deadlines are counted in a calendar's open time. The arithmetic works on
real elapsed time (UTC) inside open intervals that are defined in the
calendar's local wall-clock time, so a day on which the clocks go forward has
one open hour less if the change falls inside opening hours, and an
"09:00-17:00" day is always 09:00-17:00 on the wall clock whatever the offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays as holidays_lib

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# A calendar that is closed for longer than this is a configuration mistake
# (or a holiday list gone wrong); refuse to loop forever looking for an opening.
MAX_SEARCH_DAYS = 3 * 366

Interval = tuple[int, int]  # minutes after local midnight, start < end <= 1440


@dataclass(frozen=True, slots=True)
class Calendar:
    """Weekly opening hours in one timezone, minus holidays.

    Attributes:
        name: the calendar's key in the rule file.
        timezone: an IANA zone name, e.g. ``Europe/Berlin``.
        hours: seven tuples (Monday first) of open intervals in minutes.
        holiday_dates: extra closed dates (company holidays).
        country: ISO country code whose public holidays are closed, if any.
        subdivision: state/province for the country's holidays, if any.
    """

    name: str
    timezone: str
    hours: tuple[tuple[Interval, ...], ...]
    holiday_dates: frozenset[date] = frozenset()
    country: str | None = None
    subdivision: str | None = None
    tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _public: holidays_lib.HolidayBase | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise ValueError("hours needs one entry per weekday")
        object.__setattr__(self, "tz", ZoneInfo(self.timezone))
        public = None
        if self.country:
            # The holidays object fills in years lazily on lookup, so one
            # instance serves any date without naming years up front.
            public = holidays_lib.country_holidays(self.country, subdiv=self.subdivision)
        object.__setattr__(self, "_public", public)

    @property
    def ever_open(self) -> bool:
        return any(self.hours)

    def is_holiday(self, day: date) -> bool:
        if day in self.holiday_dates:
            return True
        return self._public is not None and day in self._public

    def holiday_name(self, day: date) -> str | None:
        if day in self.holiday_dates:
            return "holiday"
        if self._public is not None:
            return self._public.get(day)
        return None

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (tz-aware) falls inside opening hours."""
        local = _aware(at, "at").astimezone(self.tz)
        if self.is_holiday(local.date()):
            return False
        minute = local.hour * 60 + local.minute + local.second / 60
        return any(start <= minute < end for start, end in self.hours[local.weekday()])

    def open_intervals(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The UTC intervals during which the calendar is open on local ``day``."""
        if self.is_holiday(day):
            return
        for start, end in self.hours[day.weekday()]:
            opens = self._instant(day, start)
            closes = self._instant(day, end)
            if closes > opens:  # can only fail inside a DST gap
                yield opens, closes

    def _instant(self, day: date, minute: int) -> datetime:
        if minute >= MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), 0
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.tz)
        return local.astimezone(timezone.utc)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def add_business_time(start: datetime, duration: timedelta, calendar: Calendar | None) -> datetime:
    """The instant at which ``duration`` of open time has passed since ``start``.

    Args:
        start: tz-aware start; if the calendar is closed then, counting starts
            at the next opening.
        duration: open time to add; zero or negative returns ``start``.
        calendar: ``None`` means always open (24/7).

    Returns:
        A UTC datetime.
    """
    cursor = _aware(start, "start").astimezone(timezone.utc)
    if duration <= timedelta(0):
        return cursor
    if calendar is None:
        return cursor + duration
    remaining = duration
    day = cursor.astimezone(calendar.tz).date()
    for _ in range(MAX_SEARCH_DAYS):
        for opens, closes in calendar.open_intervals(day):
            if closes <= cursor:
                continue
            opens = max(opens, cursor)
            available = closes - opens
            if available >= remaining:
                return opens + remaining
            remaining -= available
        day += timedelta(days=1)
    raise ValueError(f"calendar {calendar.name!r} has no open time within {MAX_SEARCH_DAYS} days")


def business_time_between(start: datetime, end: datetime, calendar: Calendar | None) -> timedelta:
    """Open time between two tz-aware instants; zero if ``end`` is not after ``start``."""
    begin = _aware(start, "start").astimezone(timezone.utc)
    finish = _aware(end, "end").astimezone(timezone.utc)
    if finish <= begin:
        return timedelta(0)
    if calendar is None:
        return finish - begin
    total = timedelta(0)
    day = begin.astimezone(calendar.tz).date()
    last = finish.astimezone(calendar.tz).date()
    while day <= last:
        for opens, closes in calendar.open_intervals(day):
            overlap = min(closes, finish) - max(opens, begin)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def next_open(at: datetime, calendar: Calendar | None) -> datetime:
    """The first open instant at or after ``at`` (UTC); ``at`` itself if open now."""
    cursor = _aware(at, "at").astimezone(timezone.utc)
    if calendar is None:
        return cursor
    day = cursor.astimezone(calendar.tz).date()
    for _ in range(MAX_SEARCH_DAYS):
        for opens, closes in calendar.open_intervals(day):
            if closes > cursor:
                return max(opens, cursor)
        day += timedelta(days=1)
    raise ValueError(f"calendar {calendar.name!r} has no open time within {MAX_SEARCH_DAYS} days")
