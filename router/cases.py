"""Example messages with expected routing: ``gateway rules test`` runs a table of them.

Admins keep such a table next to their rule file and run it in CI, so an
edit that sends "I was charged twice" to the wrong team fails before it ships.
The same helpers build the sample inputs for ``gateway rules explain``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from conversations.clock import utcnow
from conversations.messages import InboundMessage
from conversations.models import (
    Channel,
    Conversation,
    ConversationId,
    Customer,
    CustomerId,
    Identity,
    Priority,
    Status,
)
from router.decision import Decision
from router.errors import RulesError
from router.loader import validate_document
from router.rules import RuleSet
from router.fields import OneOrMany, Tier
from router.schema import Model

_SAMPLE_ADDRESS = {
    Channel.EMAIL: "customer@example.com",
    Channel.SMS: "+15005550006",
    Channel.SLACK: "T0000:U0000",
    Channel.WEBCHAT: "visitor:explain",
}


def _attr(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


class CaseConversation(Model):
    """The conversation the message joins; omit for a brand-new conversation."""

    queue: str = ""
    tier: Tier = 1
    tags: OneOrMany[str] = Field(default_factory=list)
    messages: int = Field(default=1, ge=0)
    reopened: int = Field(default=0, ge=0, description="how many times it was reopened")
    subject: str | None = None


class Expect(Model):
    queue: str | None = None
    tier: Tier | None = None
    priority: Priority | None = None
    tags: OneOrMany[str] | None = Field(default=None, description="tags the decision must include")
    sla_policy: str | None = None
    rule: str | None = None


class Case(Model):
    name: str | None = None
    text: str
    channel: Channel = Channel.WEBCHAT
    subject: str | None = None
    attrs: dict[str, Annotated[str, BeforeValidator(_attr)]] = Field(default_factory=dict)
    at: datetime | None = None
    conversation: CaseConversation | None = None
    expect: Expect


class CasesFile(Model):
    at: datetime | None = Field(default=None, description="default time for cases without their own")
    cases: list[Case] = Field(min_length=1)


def _utc(at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def sample_inputs(
    *,
    text: str,
    channel: Channel,
    subject: str | None = None,
    attrs: dict[str, str] | None = None,
    at: datetime | None = None,
    conversation: CaseConversation | None = None,
) -> tuple[Conversation | None, InboundMessage, Customer, datetime]:
    """A message (and customer, conversation) as ingest would hand them to the router."""
    now = _utc(at)
    identity = Identity(channel, _SAMPLE_ADDRESS[channel])
    message = InboundMessage(
        channel=channel, identity=identity, provider_id="sample", text=text, received_at=now, subject=subject
    )
    customer = Customer(
        id=CustomerId("sample"), name="Sample Customer", attributes=dict(attrs or {}),
        identities=(identity,), created_at=now,
    )
    found = None
    if conversation is not None:
        found = Conversation(
            id=ConversationId("sample"), customer_id=customer.id, status=Status.OPEN,
            queue=conversation.queue, tier=conversation.tier, priority=Priority.NORMAL,
            tags=tuple(conversation.tags), assignee=None, created_at=now, updated_at=now,
            last_inbound_channel=channel, last_inbound_at=now, first_response_at=None, resolved_at=None,
            rule=None, sla_policy=None, message_count=conversation.messages,
            reopen_count=conversation.reopened, subject=conversation.subject,
        )
    return found, message, customer, now


@dataclass(frozen=True, slots=True)
class CaseResult:
    index: int
    line: int
    case: Case
    decision: Decision
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def label(self) -> str:
        text = self.case.text if len(self.case.text) <= 60 else self.case.text[:57] + "..."
        return self.case.name or repr(text)


def load_cases(text: str, path: str) -> tuple[CasesFile, list[int]]:
    """Validate a cases file; returns it and each case's line number.

    Raises:
        RulesError: the cases file has errors (with line and column).
    """
    model, doc, errors = validate_document(text, path, CasesFile)
    if model is None:
        raise RulesError(errors)
    lines = [doc.position(("cases", i))[0] for i in range(len(model.cases))]
    return model, lines


def run_cases(rules: RuleSet, cases: CasesFile, lines: list[int]) -> list[CaseResult]:
    results = []
    for index, (case, line) in enumerate(zip(cases.cases, lines)):
        conversation, message, customer, now = sample_inputs(
            text=case.text, channel=case.channel, subject=case.subject, attrs=case.attrs,
            at=case.at or cases.at, conversation=case.conversation,
        )
        decision = rules.decide(conversation, message, customer, now)
        results.append(CaseResult(index, line, case, decision, tuple(_compare(case.expect, decision))))
    return results


def _compare(expect: Expect, decision: Decision) -> list[str]:
    problems = []
    checked: tuple[tuple[str, object, object], ...] = (
        ("queue", expect.queue, decision.queue),
        ("tier", expect.tier, decision.tier),
        ("priority", expect.priority, decision.priority),
        ("sla_policy", expect.sla_policy, decision.sla_policy),
        ("rule", expect.rule, decision.rule),
    )
    for field, wanted, got in checked:
        if wanted is not None and wanted != got:
            problems.append(f"{field}: expected {_show(wanted)}, got {_show(got)}")
    if expect.tags is not None:
        missing = [t for t in expect.tags if t not in decision.tags]
        if missing:
            problems.append(f"tags: expected {missing} among {list(decision.tags)}")
    return problems


def _show(value: object) -> str:
    return str(value.value) if isinstance(value, Priority) else str(value)
