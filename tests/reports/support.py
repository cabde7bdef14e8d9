"""The reports' scripted scenario: a rule file with a business calendar, and a runtime on a driven clock."""

from __future__ import annotations

from datetime import UTC, datetime

from conversations import changes
from conversations.events import ConversationEvent, EventKind
from conversations.messages import InboundMessage
from conversations.models import Channel, Identity

RULES = """\
queues:
  support:
    slack_channel: "#support"
    sla_policy: office
  service:
    slack_channel: "#service"
    sla_policy: relaxed
sla_policies:
  office: {first_response: 1h, resolution: 1d, calendar: weekdays}
  relaxed: {first_response: 4h, resolution: 2d}
calendars:
  weekdays:
    timezone: UTC
    hours: {weekdays: "09:00-17:00"}
escalation:
  support:
    steps:
      - {from_tier: 1, to_tier: 2, on: [agent]}
rules:
  - name: technical
    when:
      text: {words: [crash*, error]}
    then: {queue: support, tags: [bug]}
default:
  queue: service
"""

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, when the weekdays calendar opens


def sms(text: str, provider_id: str, at: datetime, phone: str) -> InboundMessage:
    return InboundMessage(channel=Channel.SMS, identity=Identity(Channel.SMS, phone), provider_id=provider_id,
                          text=text, received_at=at)


def email(text: str, provider_id: str, at: datetime, address: str) -> InboundMessage:
    return InboundMessage(channel=Channel.EMAIL, identity=Identity(Channel.EMAIL, address), provider_id=provider_id,
                          text=text, received_at=at, subject="Question")


async def csat_event(runtime, conversation_id: str, kind: EventKind, detail: dict[str, str]) -> None:
    """What the CSAT feature stores and says: a timeline entry (kind csat_sent / csat_rated) and the event."""
    now = runtime.service.clock()
    before, _ = await runtime.store.mutate(conversation_id, lambda current: changes.Change(
        messages=[changes.event_message(current, kind.value, f"CSAT {kind.value}", now, detail)]))
    await runtime.events.emit(ConversationEvent(kind, conversation_id, before.customer_id, detail=detail))
