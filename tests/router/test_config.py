"""Escalation paths, SLA policies and the built-in default, as the workers read them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conversations.models import Priority
from router.default import default_ruleset
from router.durations import format_duration, parse_duration
from router.loader import load_rules
from tests.router.helpers import EXAMPLE_RULES


@pytest.mark.parametrize(("text", "value"), [
    ("30s", timedelta(seconds=30)), ("15m", timedelta(minutes=15)), ("4h", timedelta(hours=4)),
    ("2d", timedelta(days=2)), ("1w", timedelta(weeks=1)), ("1h30m", timedelta(hours=1, minutes=30)),
    ("1d 2h", timedelta(days=1, hours=2)), (" 2H ", timedelta(hours=2)),
])
def test_durations(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["", "30", "1 hour", "30m1h", "1.5h", "h", "1m1m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_escalation_path_of_the_example() -> None:
    rules = load_rules(EXAMPLE_RULES)
    step = rules.escalation_step("support", 1, "first_response.breach")
    assert step is not None and (step.from_tier, step.to_tier, step.restart) == (1, 2, ("first_response",))
    assert rules.escalation_step("support", 1, "resolution.warning") is step
    assert rules.escalation_step("support", 1, "next_response.breach") is None
    top = rules.escalation_step("support", 2, "agent")
    assert top is not None and top.to_tier == 3 and top.priority == Priority.HIGH
    assert rules.escalation_step("support", 3, "resolution.breach") is None  # last tier: alert instead
    assert rules.queues["support"].alert_channel == "#support-oncall"
    assert rules.queues["support"].last_tier == 3
    assert rules.escalation["support"].watched_triggers(1) == {
        "first_response.breach", "resolution.warning", "agent"}


def test_sla_policy_details() -> None:
    rules = load_rules(EXAMPLE_RULES)
    policy = rules.sla_policies["support-standard"]
    assert (policy.first_response, policy.next_response, policy.resolution) == (
        timedelta(hours=1), timedelta(hours=4), timedelta(days=2))
    assert policy.calendar == "extended" and policy.warning_at == 0.75 and policy.pause_while_pending
    assert rules.sla_policies["urgent"].pause_while_pending is False
    assert rules.calendar_for(rules.sla_policies["urgent"]) is None


def test_default_rules_let_agents_escalate_tier_by_tier() -> None:
    rules = default_ruleset()
    assert rules.escalation_step("support", 1, "agent").to_tier == 2  # type: ignore[union-attr]
    assert rules.escalation_step("support", 1, "first_response.breach") is None
    assert rules.sla_policy_for("support", None).name == "standard"  # type: ignore[union-attr]
