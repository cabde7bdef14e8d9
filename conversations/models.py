"""Domain values: customers, their identities, conversations and messages.

Frozen dataclasses for values that travel between packages; the Redis store
turns them into hashes and stream entries and back (see ``conversations/codec.py``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import NewType

CustomerId = NewType("CustomerId", str)
ConversationId = NewType("ConversationId", str)
MessageId = NewType("MessageId", str)


class Channel(enum.StrEnum):
    """A way a customer reaches the business."""

    EMAIL = "email"
    SMS = "sms"
    SLACK = "slack"
    WEBCHAT = "webchat"


class Direction(enum.StrEnum):
    """Who a message is from and who may see it."""

    INBOUND = "inbound"  # from the customer
    OUTBOUND = "outbound"  # from an agent (or an automatic reply) to the customer
    NOTE = "note"  # agents only; never leaves the gateway
    EVENT = "event"  # something that happened: routed, transferred, escalated, SLA breach


class Status(enum.StrEnum):
    OPEN = "open"  # waiting on an agent
    PENDING = "pending"  # waiting on the customer
    RESOLVED = "resolved"


LIVE_STATUSES = frozenset({Status.OPEN, Status.PENDING})


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return PRIORITY_ORDER.index(self)


PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


class DeliveryStatus(enum.StrEnum):
    """Where an outbound message is on its way to the customer."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"


FINAL_FAILURES = frozenset({DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED})

SERVICE = "service"
SUPPORT = "support"
TIERS = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class Identity:
    """One address a customer writes from, already normalized.

    ``address`` forms: email → lower-cased address; sms → E.164 number;
    slack → ``TEAM:USER``; webchat → ``visitor:<id>`` for an anonymous visitor
    or ``user:<identifier>`` for an identifier the site verified.
    """

    channel: Channel
    address: str

    @property
    def key(self) -> str:
        return f"{self.channel.value}:{self.address}"

    @classmethod
    def parse(cls, key: str) -> Identity:
        channel, _, address = key.partition(":")
        if not address:
            raise ValueError(f"identity {key!r} is not CHANNEL:ADDRESS")
        return cls(Channel(channel), address)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file of a message. ``id`` names its bytes in the attachment store (``conversations/attachments.py``);
    without it only the metadata is known, and ``refused`` says why the bytes were not kept."""

    name: str
    content_type: str
    size: int | None = None
    url: str | None = None  # a provider's link (kept for reference; agents get signed URLs of stored files)
    id: str | None = None
    refused: str | None = None

    def fields(self) -> dict[str, object]:
        """The stored JSON shape (only the set optional fields)."""
        found: dict[str, object] = {"name": self.name, "content_type": self.content_type, "size": self.size,
                                    "url": self.url}
        if self.id:
            found["id"] = self.id
        if self.refused:
            found["refused"] = self.refused
        return found


@dataclass(frozen=True, slots=True)
class Customer:
    id: CustomerId
    name: str
    attributes: dict[str, str]
    identities: tuple[Identity, ...]
    created_at: datetime
    merged_into: CustomerId | None = None


@dataclass(frozen=True, slots=True)
class Routing:
    """Where the router (or an agent) put a conversation, and why."""

    queue: str
    tier: int
    priority: Priority
    tags: tuple[str, ...] = ()
    sla_policy: str | None = None
    rule: str | None = None  # the rule that matched; "transfer"/"escalate" for agent actions
    auto_reply: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    id: ConversationId
    customer_id: CustomerId
    status: Status
    queue: str  # "" until routed
    tier: int
    priority: Priority
    tags: tuple[str, ...]
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    last_inbound_channel: Channel | None
    last_inbound_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    rule: str | None
    sla_policy: str | None
    message_count: int
    reopen_count: int
    subject: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def routed(self) -> bool:
        return bool(self.queue)


@dataclass(frozen=True, slots=True)
class Message:
    id: MessageId
    conversation_id: ConversationId
    direction: Direction
    channel: Channel | None  # None for notes and events
    author: str
    text: str
    created_at: datetime
    provider_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    delivery: DeliveryStatus | None = None
    delivery_error: str | None = None
    kind: str | None = None  # for events: routed, transferred, escalated, sla_warning, ...
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def visible_to_customer(self) -> bool:
        return self.direction in (Direction.INBOUND, Direction.OUTBOUND)
