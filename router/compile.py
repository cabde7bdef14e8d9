"""Validated models → the runtime ``RuleSet``: conditions compiled, names resolved.

Runs only on a file that passed every check, so lookups here cannot miss.
"""

from __future__ import annotations

from conversations.models import Conversation
from router.calendar import Calendar
from router.conditions import (
    Always,
    AllOf,
    AnyOf,
    AttributeIn,
    ChannelIs,
    Condition,
    ConversationFact,
    InsideHours,
    Not,
    TextHas,
)
from router.config import AGENT, CsatSurvey, EscalationPath, EscalationStep, QueueConfig, SlaPolicy
from router.rules import CompiledRule, RuleSet
from router.trends import Trend
from router.schema import (
    CalendarModel,
    ConversationMatch,
    CsatModel,
    EscalationModel,
    QueueModel,
    Range,
    RuleFile,
    SlaPolicyModel,
    TextMatch,
    TrendModel,
    When,
    weekly_hours,
)
from router.text import RegexBank, RegexMatcher, WordMatcher


def build_ruleset(model: RuleFile, *, version: str, path: str | None) -> RuleSet:
    calendars = {name: _calendar(name, c) for name, c in model.calendars.items()}
    bank = RegexBank()
    queues = {name: _queue(name, q) for name, q in model.queues.items()}
    rules = tuple(
        CompiledRule(
            name=rule.name,
            condition=_when(rule.when, calendars, bank),
            queue=rule.then.queue,
            tier=rule.then.tier,
            priority=rule.then.priority,
            tags=tuple(rule.then.tags),
            sla_policy=rule.then.sla_policy,
            auto_reply=rule.then.auto_reply,
            continue_=rule.then.continue_,
        )
        for rule in model.rules
    )
    bank.compile()
    default = CompiledRule(
        name="default",
        condition=Always(),
        queue=model.default.queue,
        tier=model.default.tier,
        priority=model.default.priority,
        tags=tuple(model.default.tags),
        sla_policy=model.default.sla_policy,
        auto_reply=model.default.auto_reply,
        continue_=False,
    )
    return RuleSet(
        version=version,
        path=path,
        queues=queues,
        sla_policies={name: _policy(name, p) for name, p in model.sla_policies.items()},
        calendars=calendars,
        escalation={name: _escalation(name, model.escalation.get(name), queues[name]) for name in queues},
        rules=rules,
        default=default,
        bank=bank if bank.ready else None,
        trends=tuple(_trend(t) for t in model.trends),
    )


def _trend(model: TrendModel) -> Trend:
    match = model.match
    return Trend(
        name=model.name,
        queue=model.queue,
        tags=frozenset(match.tags or ()),
        words=WordMatcher(match.words, match.case_sensitive) if match.words else None,
        window=model.window,
        baseline=model.baseline,
        factor=model.factor,
        min_count=model.min_count,
        notify=model.notify,
    )


def _calendar(name: str, model: CalendarModel) -> Calendar:
    holidays = model.holidays
    return Calendar(
        name=name,
        timezone=model.timezone,
        hours=weekly_hours(model),
        holiday_dates=frozenset(holidays.dates) if holidays else frozenset(),
        country=holidays.country if holidays else None,
        subdivision=holidays.subdivision if holidays else None,
    )


def _queue(name: str, model: QueueModel) -> QueueConfig:
    return QueueConfig(
        name=name,
        tiers=tuple(sorted(model.tiers)),
        slack_channel=model.slack_channel,
        tier_channels={t: c.slack_channel for t, c in model.tiers.items() if c.slack_channel},
        sla_policy=model.sla_policy,
        alert_channel=model.alert_channel,
        description=model.description,
        csat=_csat(model.csat),
    )


def _policy(name: str, model: SlaPolicyModel) -> SlaPolicy:
    return SlaPolicy(
        name=name,
        first_response=model.first_response,
        next_response=model.next_response,
        resolution=model.resolution,
        calendar=model.calendar,
        pause_while_pending=model.pause_while_pending,
        warning_at=model.warning_at,
        csat=_csat(model.csat),
    )


def _csat(model: CsatModel | None) -> CsatSurvey | None:
    if model is None:
        return None
    return CsatSurvey(questions=model.question, window=model.window, ask_on_resolve=model.ask_on_resolve)


def _escalation(queue: str, model: EscalationModel | None, config: QueueConfig) -> EscalationPath:
    if model is None:
        # No path configured: nothing moves on a timer, but an agent can
        # still escalate tier by tier.
        tiers = config.tiers
        steps = tuple(EscalationStep(a, b, frozenset({AGENT})) for a, b in zip(tiers, tiers[1:]))
        return EscalationPath(queue, steps)
    return EscalationPath(
        queue,
        tuple(
            EscalationStep(
                from_tier=s.from_tier,
                to_tier=s.to_tier,
                triggers=frozenset(s.on),
                to_queue=s.to_queue,
                priority=s.priority,
                sla_policy=s.sla_policy,
                restart=tuple(dict.fromkeys(s.restart)),
            )
            for s in model.steps
        ),
    )


def _when(when: When | None, calendars: dict[str, Calendar], bank: RegexBank) -> Condition:
    if when is None:
        return Always()
    parts: list[Condition] = []
    if when.channel:
        parts.append(ChannelIs(when.channel))
    for field, match in (("text", when.text), ("subject", when.subject), ("content", when.content)):
        if match is not None:
            parts.append(_text(field, match, bank))
    for name, values in (when.customer or {}).items():
        parts.append(AttributeIn(name, values))
    if when.conversation is not None:
        parts.extend(_conversation(when.conversation))
    if when.time is not None:
        inside = when.time.inside is not None
        parts.append(InsideHours(calendars[when.time.inside or when.time.outside or ""], inside))
    if when.all:
        parts.append(AllOf([_when(w, calendars, bank) for w in when.all]))
    if when.any:
        parts.append(AnyOf([_when(w, calendars, bank) for w in when.any]))
    if when.not_ is not None:
        parts.append(Not(_when(when.not_, calendars, bank)))
    if not parts:
        return Always()
    return parts[0] if len(parts) == 1 else AllOf(parts)


def _text(field: str, match: TextMatch, bank: RegexBank) -> TextHas:
    matchers: list[WordMatcher | RegexMatcher] = []
    if match.words:
        matchers.append(WordMatcher(match.words, match.case_sensitive))
    if match.regex is not None:
        matchers.append(RegexMatcher(match.regex, match.case_sensitive, bank))
    return TextHas(field, matchers)


def _conversation(match: ConversationMatch) -> list[Condition]:
    parts: list[Condition] = []
    if match.new is not None:
        want = match.new
        parts.append(ConversationFact(
            f"new={want}",
            lambda c: _is_new(c) == want,
            lambda c: "is new" if _is_new(c) else "is not new",
        ))
    if match.reopened is not None:
        want = match.reopened
        parts.append(ConversationFact(
            f"reopened={want}",
            lambda c: (c is not None and c.reopen_count > 0) == want,
            lambda c: f"reopened {c.reopen_count if c else 0} times",
        ))
    if match.messages is not None:
        low, high = _bounds(match.messages)
        parts.append(ConversationFact(
            f"messages in {low}..{'' if high is None else high}",
            lambda c: low <= _count(c) and (high is None or _count(c) <= high),
            lambda c: f"has {_count(c)} messages",
        ))
    if match.queue:
        queues = frozenset(match.queue)
        parts.append(ConversationFact(
            f"queue in {sorted(queues)}",
            lambda c: c is not None and c.queue in queues,
            lambda c: f"is in queue {c.queue!r}" if c is not None and c.queue else "is not routed yet",
        ))
    if match.tier:
        tiers = frozenset(match.tier)
        parts.append(ConversationFact(
            f"tier in {sorted(tiers)}",
            lambda c: c is not None and bool(c.queue) and c.tier in tiers,
            lambda c: f"is at tier {c.tier}" if c is not None and c.queue else "is not routed yet",
        ))
    if match.tags:
        tags = frozenset(match.tags)
        parts.append(ConversationFact(
            f"has a tag of {sorted(tags)}",
            lambda c: c is not None and not tags.isdisjoint(c.tags),
            lambda c: f"has tags {list(c.tags) if c is not None else []}",
        ))
    return parts


def _is_new(conversation: Conversation | None) -> bool:
    # Ingest may call the router before or after counting the first message.
    return conversation is None or (conversation.reopen_count == 0 and conversation.message_count <= 1)


def _count(conversation: Conversation | None) -> int:
    # With no conversation yet, the message being routed is the first one.
    return 1 if conversation is None else max(conversation.message_count, 1)


def _bounds(messages: int | Range) -> tuple[int, int | None]:
    if isinstance(messages, int):
        return messages, messages
    return (messages.min or 0), messages.max
