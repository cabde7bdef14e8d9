"""Checks across the whole rule file: names that refer to nothing, unreachable rules.

They run on whatever parts of the file are well-formed, even when other parts
are not, so one load reports every error: a typo in one rule does not hide an
unknown queue in another. Names count as defined when their key exists, even
if the definition itself has errors (those are reported where they are).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field

from router.schema import (
    CalendarModel,
    DefaultModel,
    EscalationModel,
    QueueModel,
    RuleModel,
    SlaPolicyModel,
    TrendModel,
    When,
    weekly_hours,
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Issue:
    loc: Loc
    message: str
    at_key: bool = False


@dataclass
class Parts:
    """The well-formed parts of a rule file, plus every name it defines."""

    queue_names: set[str] = field(default_factory=set)
    policy_names: set[str] = field(default_factory=set)
    calendar_names: set[str] = field(default_factory=set)
    queues: dict[str, QueueModel] = field(default_factory=dict)
    policies: dict[str, SlaPolicyModel] = field(default_factory=dict)
    calendars: dict[str, CalendarModel] = field(default_factory=dict)
    escalation: dict[str, EscalationModel] = field(default_factory=dict)
    rules: list[tuple[int, RuleModel]] = field(default_factory=list)
    default: DefaultModel | None = None
    trends: list[tuple[int, TrendModel]] = field(default_factory=list)


def _unknown(kind: str, name: str, known: set[str]) -> str:
    message = f"unknown {kind} {name!r}"
    close = difflib.get_close_matches(name, sorted(known), n=1)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message} (defined: {', '.join(sorted(known)) or 'none'})"


def check(parts: Parts) -> list[Issue]:
    issues: list[Issue] = []
    issues += _check_queues(parts)
    issues += _check_escalation(parts)
    issues += _check_rules(parts)
    issues += _check_default(parts)
    issues += _check_trends(parts)
    return issues


def _check_queues(parts: Parts) -> Iterator[Issue]:
    for name, queue in parts.queues.items():
        if queue.sla_policy is not None and queue.sla_policy not in parts.policy_names:
            yield Issue(("queues", name, "sla_policy"), _unknown("SLA policy", queue.sla_policy, parts.policy_names))
        if not queue.tiers:
            yield Issue(("queues", name, "tiers"), "a queue needs at least one tier")
    for name, policy in parts.policies.items():
        if policy.calendar is not None and policy.calendar not in parts.calendar_names:
            yield Issue(("sla_policies", name, "calendar"), _unknown("calendar", policy.calendar, parts.calendar_names))
    for name, calendar in parts.calendars.items():
        if not any(weekly_hours(calendar)):
            yield Issue(("calendars", name, "hours"), "the calendar is never open; SLA clocks would never run")


def _tier_issue(loc: Loc, queue: str | None, tier: int, parts: Parts) -> Iterator[Issue]:
    config = parts.queues.get(queue) if queue else None
    if config is not None and config.tiers and tier not in config.tiers:
        have = ", ".join(str(t) for t in sorted(config.tiers))
        yield Issue(loc, f"queue {queue!r} has no tier {tier} (it has {have})")


def _check_escalation(parts: Parts) -> Iterator[Issue]:
    for queue, path in parts.escalation.items():
        if queue not in parts.queue_names:
            yield Issue(("escalation", queue), _unknown("queue", queue, parts.queue_names), at_key=True)
        seen: dict[tuple[int, str], int] = {}
        for i, step in enumerate(path.steps):
            loc = ("escalation", queue, "steps", i)
            target = step.to_queue or queue
            if step.to_queue is not None and step.to_queue not in parts.queue_names:
                yield Issue(loc + ("to_queue",), _unknown("queue", step.to_queue, parts.queue_names))
            yield from _tier_issue(loc + ("from_tier",), queue, step.from_tier, parts)
            yield from _tier_issue(loc + ("to_tier",), target, step.to_tier, parts)
            if target == queue and step.to_tier <= step.from_tier:
                yield Issue(loc + ("to_tier",), "an escalation within a queue must go to a higher tier")
            if step.sla_policy is not None and step.sla_policy not in parts.policy_names:
                yield Issue(loc + ("sla_policy",), _unknown("SLA policy", step.sla_policy, parts.policy_names))
            for trigger in step.on:
                first = seen.setdefault((step.from_tier, trigger), i)
                if first != i:
                    yield Issue(
                        loc + ("on",),
                        f"step {first + 1} already escalates tier {step.from_tier} on {trigger}; "
                        "which one should run?",
                    )


def _when_refs(when: When | None, loc: Loc, parts: Parts) -> Iterator[Issue]:
    if when is None:
        return
    if when.conversation is not None and when.conversation.queue:
        for j, name in enumerate(when.conversation.queue):
            if name not in parts.queue_names:
                yield Issue(loc + ("conversation", "queue", j), _unknown("queue", name, parts.queue_names))
    if when.time is not None:
        key = "inside" if when.time.inside is not None else "outside"
        name = when.time.inside or when.time.outside or ""
        if name not in parts.calendar_names:
            yield Issue(loc + ("time", key), _unknown("calendar", name, parts.calendar_names))
    for key, children in (("all", when.all), ("any", when.any)):
        for j, child in enumerate(children or ()):
            yield from _when_refs(child, loc + (key, j), parts)
    yield from _when_refs(when.not_, loc + ("not",), parts)


def is_catch_all(when: When | None) -> bool:
    return when is None or when == When()


def _check_rules(parts: Parts) -> Iterator[Issue]:
    names: dict[str, int] = {}
    catch_all: str | None = None
    deciding: dict[str, str] = {}  # conditions of earlier non-continue rules → rule name
    for index, rule in parts.rules:
        loc: Loc = ("rules", index)
        first = names.setdefault(rule.name, index)
        if first != index:
            yield Issue(loc + ("name",), f"duplicate rule name {rule.name!r} (rule {first + 1} has it too)")
        then = rule.then
        if then.queue is not None and then.queue not in parts.queue_names:
            yield Issue(loc + ("then", "queue"), _unknown("queue", then.queue, parts.queue_names))
        if then.tier is not None:
            yield from _tier_issue(loc + ("then", "tier"), then.queue, then.tier, parts)
        if then.sla_policy is not None and then.sla_policy not in parts.policy_names:
            yield Issue(loc + ("then", "sla_policy"), _unknown("SLA policy", then.sla_policy, parts.policy_names))
        yield from _when_refs(rule.when, loc + ("when",), parts)

        # is_catch_all(None) is True; the explicit None test lets mypy see that too.
        key = "" if rule.when is None or is_catch_all(rule.when) else rule.when.model_dump_json()
        if catch_all is not None:
            yield Issue(
                loc + ("name",),
                f"rule {rule.name!r} can never match: rule {catch_all!r} above matches everything "
                "and does not continue (move it up, or give it `continue: true`)",
            )
        elif key in deciding:
            yield Issue(
                loc + ("name",),
                f"rule {rule.name!r} can never match: rule {deciding[key]!r} above has the same "
                "conditions and does not continue",
            )
        if not then.continue_:
            deciding.setdefault(key, rule.name)
            if key == "" and catch_all is None:
                catch_all = rule.name


def _check_default(parts: Parts) -> Iterator[Issue]:
    default = parts.default
    if default is None:
        return
    if default.queue not in parts.queue_names:
        yield Issue(("default", "queue"), _unknown("queue", default.queue, parts.queue_names))
    yield from _tier_issue(("default", "tier"), default.queue, default.tier, parts)
    if default.sla_policy is not None and default.sla_policy not in parts.policy_names:
        yield Issue(("default", "sla_policy"), _unknown("SLA policy", default.sla_policy, parts.policy_names))


def _check_trends(parts: Parts) -> Iterator[Issue]:
    names: dict[str, int] = {}
    for index, trend in parts.trends:
        loc: Loc = ("trends", index)
        first = names.setdefault(trend.name, index)
        if first != index:
            yield Issue(loc + ("name",), f"duplicate trend name {trend.name!r} (trend {first + 1} has it too)")
        if trend.queue is not None and trend.queue not in parts.queue_names:
            yield Issue(loc + ("queue",), _unknown("queue", trend.queue, parts.queue_names))
