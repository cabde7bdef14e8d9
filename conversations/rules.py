"""What the domain needs of the routing rules, as Protocols (``router.RuleSet`` provides them all).

The core defines the shape and the router fills it, so ``conversations`` never
imports ``router``: the dependency points down, from router to here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from conversations.messages import InboundMessage
from conversations.models import Conversation, Customer, Priority


class RoutingDecision(Protocol):
    @property
    def queue(self) -> str: ...
    @property
    def tier(self) -> int: ...
    @property
    def priority(self) -> Priority: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def sla_policy(self) -> str | None: ...
    @property
    def rule(self) -> str | None: ...
    @property
    def auto_reply(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...


class EscalationStep(Protocol):
    """One step of a queue's escalation path: where it goes and what it changes."""

    @property
    def to_tier(self) -> int: ...
    @property
    def to_queue(self) -> str | None: ...
    @property
    def priority(self) -> Priority | None: ...
    @property
    def sla_policy(self) -> str | None: ...
    @property
    def restart(self) -> tuple[str, ...]: ...


class NamedPolicy(Protocol):
    @property
    def name(self) -> str: ...


class CsatSurvey(Protocol):
    """A satisfaction survey: the question asked on resolve and how long a rating may come back."""

    @property
    def question(self) -> str: ...
    @property
    def window(self) -> timedelta: ...
    @property
    def ask_on_resolve(self) -> bool: ...

    def question_in(self, language: str | None) -> str: ...


class Rules(Protocol):
    """The rule set in force: routing decisions, queues, SLA policies and escalation paths."""

    @property
    def queues(self) -> Mapping[str, object]: ...

    def decide(self, conversation: Conversation | None, message: InboundMessage | None, customer: Customer | None,
               now: datetime) -> RoutingDecision: ...

    def sla_policy_for(self, queue: str, explicit: str | None) -> NamedPolicy | None: ...

    def escalation_step(self, queue: str, tier: int, trigger: str) -> EscalationStep | None: ...

    def csat_for(self, queue: str, explicit_policy: str | None) -> CsatSurvey | None: ...

    def language_of(self, attributes: dict[str, str] | None, text: str | None) -> str | None: ...
