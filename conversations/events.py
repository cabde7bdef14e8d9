"""Domain events: what the service tells the rest of the gateway after a change.

The composition root subscribes listeners (job dispatch for Slack sync, SLA
timers, outbound delivery); ``conversations`` itself knows nothing of RQ.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("gateway.events")


class EventKind(enum.StrEnum):
    INGESTED = "ingested"  # a customer message was stored
    ROUTED = "routed"
    REPLIED = "replied"  # an outbound message waits for delivery
    NOTED = "noted"
    TRANSFERRED = "transferred"
    ESCALATED = "escalated"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    MERGED = "merged"
    DELIVERY = "delivery"  # an outbound message's delivery status changed
    CONSENT = "consent"  # an opt-out, opt-in or help keyword: on the timeline, never routed, no SLA clock
    SLA_ARMED = "sla_armed"  # the workers recomputed the SLA deadlines (shown on the Slack parent)
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    CSAT_SENT = "csat_sent"  # a survey question was sent for a conversation
    CSAT_RATED = "csat_rated"  # detail {"rating": "1".."5", "comment": "..."}


@dataclass(frozen=True, slots=True)
class ConversationEvent:
    kind: EventKind
    conversation_id: str
    customer_id: str
    message_id: str | None = None
    detail: dict[str, str] = field(default_factory=dict)


Listener = Callable[[ConversationEvent], Awaitable[None]]


class EventBus:
    """Calls every listener in order; a failing listener is logged, never hides the change."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def emit(self, event: ConversationEvent) -> None:
        for listener in self._listeners:
            try:
                await listener(event)
            except Exception:
                log.exception("listener %r failed on %s of %s", listener, event.kind, event.conversation_id)
