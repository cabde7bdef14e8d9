"""What the router decided for a conversation, and (on request) why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from conversations.models import Priority, Routing

DEFAULT_RULE = "default"


class TraceStep(NamedTuple):
    """One rule tried: its name, whether it matched, and the condition that decided."""

    rule: str
    matched: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Queue, tier, priority, tags and SLA policy for a conversation.

    Attributes:
        rule: the rule that chose the queue, or ``"default"``.
        sla_policy: the policy in force: the rule's, else the queue's default.
        matched: every rule that matched, in order (the first decides; later
            ones, reached through ``continue``, add tags and fill unset fields).
        auto_reply: the rule's auto-reply in the customer's language (else its default text).
        language: the customer's language: their ``language`` attribute, else detected in the
            message among the rule file's languages; None when neither says.
        trace: filled by ``RuleSet.explain`` only.
    """

    queue: str
    tier: int
    priority: Priority
    tags: tuple[str, ...] = ()
    sla_policy: str | None = None
    rule: str | None = DEFAULT_RULE
    auto_reply: str | None = None
    language: str | None = None
    trace: tuple[TraceStep, ...] = ()
    matched: tuple[str, ...] = ()

    @property
    def routing(self) -> Routing:
        return Routing(
            queue=self.queue,
            tier=self.tier,
            priority=self.priority,
            tags=self.tags,
            sla_policy=self.sla_policy,
            rule=self.rule,
            auto_reply=self.auto_reply,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the admin API and ``rules explain --json``."""
        return {
            "queue": self.queue,
            "tier": self.tier,
            "priority": self.priority.value,
            "tags": list(self.tags),
            "sla_policy": self.sla_policy,
            "rule": self.rule,
            "auto_reply": self.auto_reply,
            "language": self.language,
            "matched": list(self.matched),
            "trace": [{"rule": s.rule, "matched": s.matched, "reason": s.reason} for s in self.trace],
        }
