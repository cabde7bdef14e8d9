"""Pure conversions between domain values and Redis hash / stream fields.

Redis holds strings; timestamps are integer milliseconds since the epoch,
lists and maps are JSON. Unknown conversation fields (a Slack thread ts, SLA
deadlines written by the workers) are kept in ``Conversation.extra``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from conversations.models import (
    Attachment,
    Channel,
    Conversation,
    ConversationId,
    Customer,
    CustomerId,
    DeliveryStatus,
    Direction,
    Identity,
    Message,
    MessageId,
    Priority,
    Status,
)

CONVERSATION_FIELDS = frozenset(
    {
        "id", "customer_id", "status", "queue", "tier", "priority", "tags", "assignee",
        "created_at", "updated_at", "last_inbound_channel", "last_inbound_at",
        "first_response_at", "resolved_at", "rule", "sla_policy", "message_count",
        "reopen_count", "subject",
    }
)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(value: str | int | None) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _text(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name)
    return value if value else None


def conversation_from_hash(fields: Mapping[str, str]) -> Conversation:
    channel = fields.get("last_inbound_channel")
    return Conversation(
        id=ConversationId(fields["id"]),
        customer_id=CustomerId(fields["customer_id"]),
        status=Status(fields["status"]),
        queue=fields.get("queue", ""),
        tier=int(fields.get("tier") or 1),
        priority=Priority(fields.get("priority") or "normal"),
        tags=tuple(json.loads(fields.get("tags") or "[]")),
        assignee=_text(fields, "assignee"),
        created_at=from_ms(fields["created_at"]),  # type: ignore[arg-type]
        updated_at=from_ms(fields.get("updated_at") or fields["created_at"]),  # type: ignore[arg-type]
        last_inbound_channel=Channel(channel) if channel else None,
        last_inbound_at=from_ms(fields.get("last_inbound_at")),
        first_response_at=from_ms(fields.get("first_response_at")),
        resolved_at=from_ms(fields.get("resolved_at")),
        rule=_text(fields, "rule"),
        sla_policy=_text(fields, "sla_policy"),
        message_count=int(fields.get("message_count") or 0),
        reopen_count=int(fields.get("reopen_count") or 0),
        subject=_text(fields, "subject"),
        extra={k: v for k, v in fields.items() if k not in CONVERSATION_FIELDS},
    )


def customer_from_hash(fields: Mapping[str, str], identities: set[str]) -> Customer:
    return Customer(
        id=CustomerId(fields["id"]),
        name=fields.get("name", ""),
        attributes=json.loads(fields.get("attributes") or "{}"),
        identities=tuple(sorted((Identity.parse(key) for key in identities), key=lambda i: i.key)),
        created_at=from_ms(fields["created_at"]),  # type: ignore[arg-type]
        merged_into=CustomerId(fields["merged_into"]) if fields.get("merged_into") else None,
    )


def message_fields(message: Message) -> dict[str, str]:
    """Stream entry fields; delivery state lives apart because streams are append-only."""
    fields = {
        "id": message.id,
        "direction": message.direction.value,
        "author": message.author,
        "text": message.text,
        "created_at": str(to_ms(message.created_at)),
    }
    if message.channel is not None:
        fields["channel"] = message.channel.value
    if message.provider_id:
        fields["provider_id"] = message.provider_id
    if message.attachments:
        fields["attachments"] = json.dumps([a.fields() for a in message.attachments])
    if message.kind:
        fields["kind"] = message.kind
    if message.meta:
        fields["meta"] = json.dumps(message.meta)
    return fields


def message_from_fields(
    conversation_id: str, fields: Mapping[str, str], delivery: Mapping[str, str] | None = None
) -> Message:
    channel = fields.get("channel")
    state = json.loads(delivery[fields["id"]]) if delivery and fields["id"] in delivery else {}
    return Message(
        id=MessageId(fields["id"]),
        conversation_id=ConversationId(conversation_id),
        direction=Direction(fields["direction"]),
        channel=Channel(channel) if channel else None,
        author=fields.get("author", ""),
        text=fields.get("text", ""),
        created_at=from_ms(fields["created_at"]),  # type: ignore[arg-type]
        provider_id=state.get("provider_id") or fields.get("provider_id") or None,
        attachments=tuple(Attachment(**a) for a in json.loads(fields.get("attachments") or "[]")),
        delivery=DeliveryStatus(state["status"]) if state.get("status") else None,
        delivery_error=state.get("error"),
        kind=fields.get("kind") or None,
        meta=json.loads(fields.get("meta") or "{}"),
    )


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def attachment_json(attachment: Attachment, link: Callable[[str], str] | None = None) -> dict[str, object]:
    """An attachment as the admin API and web chat show it; ``url`` is ``link(id)`` (a signed URL) for a stored file."""
    shown = attachment.fields()
    if attachment.id and link is not None:
        shown["url"] = link(attachment.id)
    return shown


def message_json(message: Message, link: Callable[[str], str] | None = None) -> dict[str, object]:
    """The public JSON shape of a message (admin API, web chat frames); ``link`` signs stored files' URLs."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction.value,
        "channel": message.channel.value if message.channel else None,
        "author": message.author,
        "text": message.text,
        "created_at": iso(message.created_at),
        "provider_id": message.provider_id,
        "attachments": [attachment_json(a, link) for a in message.attachments],
        "delivery": message.delivery.value if message.delivery else None,
        "delivery_error": message.delivery_error,
        "kind": message.kind,
        "meta": message.meta,
    }


def conversation_json(conversation: Conversation) -> dict[str, object]:
    return {
        "id": conversation.id,
        "customer_id": conversation.customer_id,
        "status": conversation.status.value,
        "queue": conversation.queue or None,
        "tier": conversation.tier,
        "priority": conversation.priority.value,
        "tags": list(conversation.tags),
        "assignee": conversation.assignee,
        "subject": conversation.subject,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
        "last_inbound_channel": conversation.last_inbound_channel.value if conversation.last_inbound_channel else None,
        "last_inbound_at": iso(conversation.last_inbound_at),
        "first_response_at": iso(conversation.first_response_at),
        "resolved_at": iso(conversation.resolved_at),
        "message_count": conversation.message_count,
        "reopen_count": conversation.reopen_count,
        "routing": {"rule": conversation.rule, "sla_policy": conversation.sla_policy},
        "extra": conversation.extra,
    }


def customer_json(customer: Customer) -> dict[str, object]:
    return {
        "id": customer.id,
        "name": customer.name,
        "attributes": customer.attributes,
        "identities": [{"channel": i.channel.value, "address": i.address} for i in customer.identities],
        "created_at": iso(customer.created_at),
        "merged_into": customer.merged_into,
    }


def delivery_state(status: DeliveryStatus, error: str | None = None, provider_id: str | None = None) -> str:
    state: dict[str, str] = {"status": status.value}
    if error:
        state["error"] = error
    if provider_id:
        state["provider_id"] = provider_id
    return json.dumps(state)
