"""Deadlines as a pure function: business hours, weekends, holidays, DST, pauses, restarts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from conversations.models import Channel, Direction, Message, MessageId
from router import Calendar, SlaPolicy
from workers import sla

BERLIN = ZoneInfo("Europe/Berlin")
NINE_TO_FIVE = ((9 * 60, 17 * 60),)
# Mon-Fri 09:00-17:00 Berlin; Monday 30 March 2026 is a company holiday. The clocks go
# forward on Sunday 29 March 2026 (CET +01:00 -> CEST +02:00).
OFFICE = Calendar("office", "Europe/Berlin", (NINE_TO_FIVE,) * 5 + ((), ()), frozenset({date(2026, 3, 30)}))


def Policy(first_response: timedelta | None = timedelta(hours=4), **values: object) -> SlaPolicy:  # noqa: N802
    """The rule file's policy, with this module's defaults (4 h first response, nothing else)."""
    return SlaPolicy(name="p", first_response=first_response, **values)


def msg(direction: Direction, at: datetime, kind: str | None = None, automatic: bool = False) -> Message:
    return Message(id=MessageId(f"m{at.timestamp()}"), conversation_id="c", direction=direction,  # type: ignore
                   channel=None if direction == Direction.EVENT else Channel.SMS, author="x", text="t",
                   created_at=at, kind=kind, meta={"automatic": "1"} if automatic else {})


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


def test_first_response_skips_the_weekend_the_dst_change_and_a_holiday():
    friday = local(2026, 3, 27, 16, 0)  # one open hour left on Friday
    deadlines = sla.plan(Policy(), sla.CalendarTime(OFFICE), [msg(Direction.INBOUND, friday)], friday)
    # 1h Friday, weekend closed (DST happens), Monday holiday, 3h on Tuesday in summer time.
    assert deadlines["first_response"].breach == local(2026, 3, 31, 12, 0)
    assert deadlines["first_response"].breach == datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
    # Warning at 80% = 3h12m: Tuesday 11:12 CEST.
    assert deadlines["first_response"].warning == local(2026, 3, 31, 11, 12)


def test_a_message_on_a_closed_day_starts_counting_at_the_next_opening():
    sunday = local(2026, 3, 29, 12, 0)
    deadlines = sla.plan(Policy(first_response=timedelta(hours=1)), sla.CalendarTime(OFFICE),
                         [msg(Direction.INBOUND, sunday)], sunday)
    assert deadlines["first_response"].breach == local(2026, 3, 31, 10, 0)


def test_an_agent_reply_stops_first_response_and_an_automatic_one_does_not():
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    timeline = [msg(Direction.INBOUND, t0), msg(Direction.OUTBOUND, t0 + timedelta(seconds=1), automatic=True)]
    assert "first_response" in sla.plan(Policy(), sla.CalendarTime(), timeline, t0)
    timeline.append(msg(Direction.OUTBOUND, t0 + timedelta(minutes=30)))
    assert "first_response" not in sla.plan(Policy(), sla.CalendarTime(), timeline, t0)


def test_resolution_pauses_while_waiting_on_the_customer_and_resumes_when_they_write():
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    policy = Policy(first_response=None, next_response=timedelta(hours=1), resolution=timedelta(hours=10))
    asked = [msg(Direction.INBOUND, t0), msg(Direction.OUTBOUND, t0 + timedelta(hours=2))]
    # Waiting on the customer: resolution paused, nothing to arm.
    assert sla.plan(policy, sla.CalendarTime(), asked, t0) == {}
    answered = [*asked, msg(Direction.INBOUND, t0 + timedelta(hours=5))]
    deadlines = sla.plan(policy, sla.CalendarTime(), answered, t0)
    # 2h used before the pause, 8h left from the customer's answer at +5h.
    assert deadlines["resolution"].breach == t0 + timedelta(hours=13)
    assert deadlines["resolution"].warning == t0 + timedelta(hours=11)
    # The customer wrote after an agent reply: the next response clock runs from then.
    assert deadlines["next_response"].breach == t0 + timedelta(hours=6)


def test_without_pausing_resolution_runs_while_pending():
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    policy = Policy(first_response=None, resolution=timedelta(hours=10), pause_while_pending=False)
    timeline = [msg(Direction.INBOUND, t0), msg(Direction.OUTBOUND, t0 + timedelta(hours=2)),
                msg(Direction.INBOUND, t0 + timedelta(hours=5))]
    assert sla.plan(policy, sla.CalendarTime(), timeline, t0)["resolution"].breach == t0 + timedelta(hours=10)


def test_resolved_stops_and_reopened_resumes_resolution():
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    policy = Policy(first_response=None, resolution=timedelta(hours=10))
    timeline = [msg(Direction.INBOUND, t0), msg(Direction.EVENT, t0 + timedelta(hours=3), kind="resolved")]
    assert sla.plan(policy, sla.CalendarTime(), timeline, t0) == {}
    timeline.append(msg(Direction.EVENT, t0 + timedelta(hours=20), kind="reopened"))
    assert sla.plan(policy, sla.CalendarTime(), timeline, t0)["resolution"].breach == t0 + timedelta(hours=27)


def test_a_restart_counts_the_clock_from_the_escalation():
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    restarted = t0 + timedelta(hours=5)
    deadlines = sla.plan(Policy(), sla.CalendarTime(), [msg(Direction.INBOUND, t0)], t0,
                         {"first_response": restarted})
    assert deadlines["first_response"].breach == restarted + timedelta(hours=4)
