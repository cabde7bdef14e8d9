"""What the router decided for a conversation, and (on request) why."""

from __future__ import annotations

from typing import Any, NamedTuple

from conversations.models import Priority, Routing
from router.language import customer_language

DEFAULT_RULE = "default"
# What the customer's language is worked out from: their attributes, the message text, the file's languages.
LanguageSpot = tuple[dict[str, str] | None, str | None, tuple[str, ...]]


class TraceStep(NamedTuple):
    """One rule tried: its name, whether it matched, and the condition that decided."""

    rule: str
    matched: bool
    reason: str


class Decision:
    """Queue, tier, priority, tags and SLA policy for a conversation (read-only once made).

    Attributes:
        rule: the rule that chose the queue, or ``"default"``.
        sla_policy: the policy in force: the rule's, else the queue's default.
        matched: every rule that matched, in order (the first decides; later
            ones, reached through ``continue``, add tags and fill unset fields).
        auto_reply: the rule's auto-reply in the customer's language (else its default text).
        language: the customer's language: their ``language`` attribute, else detected in the
            message among the rule file's languages; None when neither says.
        trace: filled by ``RuleSet.explain`` only.

    ``language`` is worked out on first read (``spot``: the customer's attributes, the message
    text and the file's languages), not while deciding: detection costs ~100 µs, most
    decisions never need it, and ``RuleSet.decide`` is the router's hot path.
    """

    __slots__ = ("queue", "tier", "priority", "tags", "sla_policy", "rule", "auto_reply", "trace", "matched",
                 "_language", "_spot")

    def __init__(
        self,
        queue: str,
        tier: int,
        priority: Priority,
        tags: tuple[str, ...] = (),
        sla_policy: str | None = None,
        rule: str | None = DEFAULT_RULE,
        auto_reply: str | None = None,
        language: str | None = None,
        trace: tuple[TraceStep, ...] = (),
        matched: tuple[str, ...] = (),
        *,
        spot: LanguageSpot | None = None,
    ) -> None:
        self.queue = queue
        self.tier = tier
        self.priority = priority
        self.tags = tags
        self.sla_policy = sla_policy
        self.rule = rule
        self.auto_reply = auto_reply
        self.trace = trace
        self.matched = matched
        self._language = language
        self._spot = spot  # None once the language is known

    @property
    def language(self) -> str | None:
        spot = self._spot
        if spot is not None:
            attributes, text, among = spot
            self._language = customer_language(attributes, text, among)
            self._spot = None
        return self._language

    def _key(self) -> tuple[object, ...]:
        return (self.queue, self.tier, self.priority, self.tags, self.sla_policy, self.rule, self.auto_reply,
                self.language, self.trace, self.matched)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Decision(queue={self.queue!r}, tier={self.tier}, priority={self.priority}, tags={self.tags}, "
                f"sla_policy={self.sla_policy!r}, rule={self.rule!r}, auto_reply={self.auto_reply!r}, "
                f"language={self.language!r}, matched={self.matched})")

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
