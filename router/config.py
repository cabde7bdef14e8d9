"""The runtime form of queues, SLA policies and escalation paths.

Plain frozen dataclasses, built once per load by ``router/compile.py``: the
workers read them on every timer, so they carry answers (``step_for``,
``channel_for``) rather than raw YAML shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from conversations.models import Priority
from router.localized import LocalizedText

CLOCKS = ("first_response", "next_response", "resolution")
AGENT = "agent"


@dataclass(frozen=True, slots=True)
class CsatSurvey:
    """A queue's (or SLA policy's) satisfaction survey: asked on resolve, answered within ``window``."""

    questions: LocalizedText
    window: timedelta
    ask_on_resolve: bool = True

    @property
    def question(self) -> str:
        """The default question (the first language listed)."""
        return self.questions.default

    def question_in(self, language: str | None) -> str:
        """The question in ``language``, else the default."""
        return self.questions.pick(language)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue (``service``, ``support``, ...) and its tiers.

    Attributes:
        tiers: the tier numbers this queue has, ascending.
        tier_channels: Slack channel per tier, where a tier has its own.
        slack_channel: the queue's Slack channel (used by tiers without one).
        sla_policy: the default SLA policy name for conversations here.
        alert_channel: where alerts go when the last tier breaches.
    """

    name: str
    tiers: tuple[int, ...]
    slack_channel: str | None = None
    tier_channels: dict[int, str] = field(default_factory=dict)
    sla_policy: str | None = None
    alert_channel: str | None = None
    description: str | None = None
    csat: CsatSurvey | None = None

    @property
    def last_tier(self) -> int:
        return self.tiers[-1]

    def channel_for(self, tier: int) -> str | None:
        return self.tier_channels.get(tier) or self.slack_channel

    def clamp_tier(self, tier: int) -> int:
        """The closest tier this queue has, not above ``tier`` where possible."""
        lower = [t for t in self.tiers if t <= tier]
        return lower[-1] if lower else self.tiers[0]


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets counted in ``calendar``'s business hours (``None`` = 24/7)."""

    name: str
    first_response: timedelta | None = None
    next_response: timedelta | None = None
    resolution: timedelta | None = None
    calendar: str | None = None
    pause_while_pending: bool = True
    warning_at: float = 0.8
    csat: CsatSurvey | None = None

    def target(self, clock: str) -> timedelta | None:
        # One branch per clock (not getattr), so each target keeps its declared type.
        if clock == "first_response":
            return self.first_response
        if clock == "next_response":
            return self.next_response
        if clock == "resolution":
            return self.resolution
        raise ValueError(f"unknown SLA clock {clock!r}; expected one of {', '.join(CLOCKS)}")

    def warning_after(self, clock: str) -> timedelta | None:
        """Business time after which the warning fires for ``clock``."""
        target = self.target(clock)
        return None if target is None else target * self.warning_at


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One move up the path: from a tier to a higher one (or to another queue).

    ``triggers`` holds ``"<clock>.breach"``, ``"<clock>.warning"`` and/or
    ``"agent"`` (an agent pressed Escalate).
    """

    from_tier: int
    to_tier: int
    triggers: frozenset[str]
    to_queue: str | None = None
    priority: Priority | None = None
    sla_policy: str | None = None
    restart: tuple[str, ...] = ("first_response",)

    def fires_on(self, trigger: str) -> bool:
        return trigger in self.triggers


@dataclass(frozen=True, slots=True)
class EscalationPath:
    """A queue's escalation steps, in file order."""

    queue: str
    steps: tuple[EscalationStep, ...] = ()

    def step_for(self, tier: int, trigger: str) -> EscalationStep | None:
        """The step to take from ``tier`` on ``trigger``; ``None`` = do not move (alert instead)."""
        for step in self.steps:
            if step.from_tier == tier and trigger in step.triggers:
                return step
        return None

    def watched_triggers(self, tier: int) -> frozenset[str]:
        """Every trigger that moves a conversation out of ``tier``: the timers worth arming."""
        found: set[str] = set()
        for step in self.steps:
            if step.from_tier == tier:
                found |= step.triggers
        return frozenset(found)


def trigger_name(clock: str, kind: str) -> str:
    """``("first_response", "breach")`` → ``"first_response.breach"``."""
    if clock not in CLOCKS or kind not in ("warning", "breach"):
        raise ValueError(f"no trigger for clock {clock!r} and kind {kind!r}")
    return f"{clock}.{kind}"
