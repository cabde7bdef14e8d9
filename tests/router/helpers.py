"""Builders shared by the router tests."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_RULES = ROOT / "examples" / "routing.yaml"
EXAMPLE_CASES = ROOT / "examples" / "routing-cases.yaml"
# A Wednesday, 10:00 in Berlin: the example's office is open.
WEDNESDAY_MORNING = datetime(2026, 3, 25, 9, 0, tzinfo=timezone.utc)


def message(text: str, channel: Channel = Channel.WEBCHAT, subject: str | None = None) -> InboundMessage:
    return InboundMessage(
        channel=channel, identity=Identity(channel, "someone"), provider_id="p1", text=text,
        received_at=WEDNESDAY_MORNING, subject=subject,
    )


def customer(**attributes: str) -> Customer:
    return Customer(CustomerId("c1"), "Customer", dict(attributes), (), WEDNESDAY_MORNING)


def conversation(
    *, queue: str = "", tier: int = 1, tags: tuple[str, ...] = (), messages: int = 1, reopened: int = 0,
    subject: str | None = None,
) -> Conversation:
    return Conversation(
        id=ConversationId("v1"), customer_id=CustomerId("c1"), status=Status.OPEN, queue=queue, tier=tier,
        priority=Priority.NORMAL, tags=tags, assignee=None, created_at=WEDNESDAY_MORNING,
        updated_at=WEDNESDAY_MORNING, last_inbound_channel=Channel.WEBCHAT, last_inbound_at=WEDNESDAY_MORNING,
        first_response_at=None, resolved_at=None, rule=None, sla_policy=None, message_count=messages,
        reopen_count=reopened, subject=subject,
    )


MINIMAL = """\
queues:
  service: {slack_channel: "#service", sla_policy: std}
  support:
    slack_channel: "#support"
    alert_channel: "#oncall"
    tiers:
      1:
      2: {slack_channel: "#support-t2"}
      3: {slack_channel: "#support-t3"}
sla_policies:
  std: {first_response: 1h, resolution: 2d}
rules:
  - name: billing
    when: {text: [refund, invoice]}
    then: {queue: service}
default: {queue: service}
"""
