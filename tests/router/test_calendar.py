"""Business-time arithmetic across weekends, holidays and DST changes (Europe/Berlin)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from router.calendar import Calendar, add_business_time, business_time_between, next_open
from router.errors import RulesError
from router.loader import load_rules_text

BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
NINE_TO_FIVE = ((9 * 60, 17 * 60),)
WEEKDAYS = (NINE_TO_FIVE,) * 5 + ((), ())


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


OFFICE = Calendar("office", "Europe/Berlin", WEEKDAYS, frozenset({datetime(2026, 12, 24).date()}), "DE", "BE")
ALWAYS = Calendar("always", "Europe/Berlin", (((0, 24 * 60),),) * 7)
NIGHT = Calendar("night", "Europe/Berlin", (((60, 4 * 60),),) * 7)  # 01:00-04:00, spans both DST changes

# (case, start, duration, expected end) — all in the office calendar
ADDS = [
    ("inside one day", berlin(2026, 3, 25, 10, 0), timedelta(hours=2), berlin(2026, 3, 25, 12, 0)),
    ("over the weekend", berlin(2026, 3, 20, 16, 0), timedelta(hours=2), berlin(2026, 3, 23, 10, 0)),
    ("starting on a Saturday", berlin(2026, 3, 21, 11, 0), timedelta(minutes=30), berlin(2026, 3, 23, 9, 30)),
    ("before opening", berlin(2026, 3, 25, 6, 0), timedelta(hours=1), berlin(2026, 3, 25, 10, 0)),
    # Good Friday (3 April) and Easter Monday (6 April) are public holidays in Berlin.
    ("over Easter", berlin(2026, 4, 2, 16, 0), timedelta(hours=2), berlin(2026, 4, 7, 10, 0)),
    # 24 December is a company date; 25 and 26 are public holidays, then the weekend.
    ("over Christmas", berlin(2026, 12, 23, 16, 30), timedelta(hours=1), berlin(2026, 12, 28, 9, 30)),
    # Clocks go forward on Sunday 29 March: Monday's 09:00 is CEST (UTC+2).
    ("over the spring DST change", berlin(2026, 3, 27, 16, 0), timedelta(hours=2), berlin(2026, 3, 30, 10, 0)),
    # Clocks go back on Sunday 25 October.
    ("over the autumn DST change", berlin(2026, 10, 23, 16, 0), timedelta(hours=2), berlin(2026, 10, 26, 10, 0)),
    ("several days", berlin(2026, 3, 23, 9, 0), timedelta(hours=20), berlin(2026, 3, 25, 13, 0)),
]


@pytest.mark.parametrize(("start", "duration", "end"), [c[1:] for c in ADDS], ids=[c[0] for c in ADDS])
def test_add_business_time(start: datetime, duration: timedelta, end: datetime) -> None:
    result = add_business_time(start, duration, OFFICE)
    assert result == end
    assert result.tzinfo == UTC
    # And the inverse: the open time between start and the result is the duration.
    assert business_time_between(start, result, OFFICE) == duration


def test_dst_days_have_real_hours() -> None:
    # 24/7 calendar: the spring Sunday has 23 hours, the autumn Sunday 25.
    assert business_time_between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 30, 0, 0), ALWAYS) == timedelta(hours=23)
    assert business_time_between(berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 26, 0, 0), ALWAYS) == timedelta(hours=25)
    # Open 01:00-04:00 local: 02:00-03:00 does not exist in spring and happens twice in autumn.
    assert business_time_between(berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 29, 12, 0), NIGHT) == timedelta(hours=2)
    assert business_time_between(berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 25, 12, 0), NIGHT) == timedelta(hours=4)
    start = berlin(2026, 3, 29, 1, 0)
    assert add_business_time(start, timedelta(hours=2), NIGHT) == berlin(2026, 3, 29, 4, 0)


def test_no_calendar_means_round_the_clock() -> None:
    start = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert add_business_time(start, timedelta(hours=5), None) == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)
    assert business_time_between(start, start + timedelta(days=2), None) == timedelta(days=2)
    # Wall-clock arithmetic on a Berlin datetime would give 23 h here; real time is 24 h.
    assert add_business_time(berlin(2026, 3, 28, 12, 0), timedelta(hours=24), None) == berlin(2026, 3, 29, 13, 0)


def test_edges() -> None:
    start = berlin(2026, 3, 21, 11, 0)  # Saturday
    assert add_business_time(start, timedelta(0), OFFICE) == start
    assert business_time_between(start, start - timedelta(hours=1), OFFICE) == timedelta(0)
    assert next_open(start, OFFICE) == berlin(2026, 3, 23, 9, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(datetime(2026, 3, 23, 9, 0), timedelta(hours=1), OFFICE)


@pytest.mark.parametrize(("at", "is_open"), [
    (berlin(2026, 3, 25, 8, 59), False),
    (berlin(2026, 3, 25, 9, 0), True),
    (berlin(2026, 3, 25, 16, 59), True),
    (berlin(2026, 3, 25, 17, 0), False),
    (berlin(2026, 4, 3, 10, 0), False),  # Good Friday
    (berlin(2026, 12, 24, 10, 0), False),  # company holiday
    (berlin(2026, 3, 8, 10, 0), False),  # Sunday (International Women's Day is a Berlin holiday too)
    (berlin(2026, 3, 9, 10, 0), True),
])
def test_is_open(at: datetime, is_open: bool) -> None:
    assert OFFICE.is_open(at) is is_open
    assert OFFICE.is_open(at.astimezone(UTC)) is is_open


def test_calendar_from_the_rule_file() -> None:
    rules = load_rules_text("""\
queues: {service: {sla_policy: std}}
sla_policies:
  std: {first_response: 1h30m, calendar: office, warning_at: 80%}
calendars:
  office:
    timezone: Europe/Berlin
    hours: {weekdays: ["09:00-12:00", "13:00-17:00"], fri: "09:00-12:00", sun: closed}
    holidays: {country: DE, subdivision: BE, dates: [2026-12-24]}
default: {queue: service}
""")
    policy = rules.sla_policy_for("service", None)
    assert policy is not None and policy.first_response == timedelta(hours=1, minutes=30)
    assert policy.warning_after("first_response") == timedelta(hours=1, minutes=12)
    calendar = rules.calendar_for(policy)
    # Thu 11:30 + 1h30m: 30 min before lunch, 1 h after it.
    assert add_business_time(berlin(2026, 3, 26, 11, 30), policy.first_response, calendar) == berlin(2026, 3, 26, 14, 0)
    # Fri 11:30 + 1h30m: Friday closes at 12:00, the rest on Monday.
    assert add_business_time(berlin(2026, 3, 27, 11, 30), policy.first_response, calendar) == berlin(2026, 3, 30, 10, 0)


@pytest.mark.parametrize(("hours", "words"), [
    ('{weekdays: closed}', "never open"),
    ('{mon: "17:00-09:00"}', "ends before it starts"),
    ('{mon: ["09:00-12:00", "11:00-13:00"]}', "overlap"),
    ('{mon: "9-5"}', "not a time range"),
    ('{monday: "09:00-17:00"}', "Input should be"),
])
def test_bad_calendars_are_refused(hours: str, words: str) -> None:
    text = f"queues: {{service: {{}}}}\ncalendars:\n  c: {{timezone: UTC, hours: {hours}}}\ndefault: {{queue: service}}\n"
    with pytest.raises(RulesError) as caught:
        load_rules_text(text)
    assert words in str(caught.value)
    assert caught.value.errors[0].line == 3
