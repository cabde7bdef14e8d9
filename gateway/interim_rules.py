"""Routing until a rule file is loaded: everything to the service queue, tier 1.

Same shape as ``router.RuleSet`` (``decide``, ``queues``, ``sla_policy_for``),
so the service does not care which one it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conversations.models import Priority, Routing


@dataclass(frozen=True, slots=True)
class InterimDecision:
    queue: str = "service"
    tier: int = 1
    priority: Priority = Priority.NORMAL
    tags: tuple[str, ...] = ()
    sla_policy: str | None = None
    rule: str | None = "default"
    auto_reply: str | None = None

    @property
    def routing(self) -> Routing:
        return Routing(self.queue, self.tier, self.priority, self.tags, self.sla_policy, self.rule, self.auto_reply)


class InterimRules:
    version = "interim"
    queues = {"service": None, "support": None}

    def decide(self, conversation, message, customer, now: datetime) -> InterimDecision:
        return InterimDecision()

    def sla_policy_for(self, queue: str, explicit: str | None) -> None:
        return None

    def slack_channel(self, queue: str, tier: int) -> None:
        return None


class InterimLiveRules:
    current = InterimRules()

    def status(self) -> dict[str, object]:
        return {"path": None, "version": "interim", "loaded_at": None, "rules": 0, "error": None, "errors": []}

    def reload_if_changed(self) -> bool:
        return False
