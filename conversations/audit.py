"""The audit log: who changed what, and when, across all conversations and customers.

One bounded Redis stream, ``gw:audit`` (``XADD … MAXLEN ~ N``): the entry id is
the time Redis wrote it, so a time range is a range of ids and paging is a cursor
on the id, newest first. Each entry names the agent (the author of the change),
how the caller proved who it is (``via``), the action, the conversation and
customer it touched and a few facts of the change (``detail``).

What is deliberately not in it: message texts and customer attribute values.
Those stay where they belong (the timeline, the customer), so erasing a customer
does not have to rewrite the audit log, and the log does not become a second copy
of personal data. The entry names the message id and the attribute names.

Entries are written right after the change they describe (the change is atomic
in the customer's Redis slot; the audit stream is a global key, so it cannot be
in the same transaction on a Redis Cluster). A process dying between the two
loses that entry; the conversation's timeline still holds the change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from redis.asyncio import Redis

from conversations import codec, keys, redisio
from conversations.errors import InvalidRequest
from conversations.events import ConversationEvent, EventKind

AUDIT_KEY = keys.AUDIT
RULES_STATE_KEY = keys.AUDIT_RULES_STATE  # the last rule-file outcome recorded, shared by all processes
DEFAULT_MAX_ENTRIES = 200_000
SCAN_BATCH = 500
SCAN_BUDGET = 5_000  # entries one query reads at most; the cursor continues from there
MAX_PAGE = 200
ENTRY_ID = re.compile(r"\d{1,20}-\d{1,20}")
MAX_ID_PART = 2**64 - 1  # a stream id is two unsigned 64-bit numbers

# How the current caller proved who it is: set by the admin API's auth middleware for the
# request's task ("admin-token", "agent-token"); "gateway" for everything the gateway does on
# its own or on behalf of a channel (SLA timers, the Slack console's jobs, a customer's proof).
VIA: ContextVar[str] = ContextVar("audit_via", default="gateway")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    agent: str
    action: str
    conversation: str = ""
    customer: str = ""
    detail: dict[str, str] = field(default_factory=dict)
    via: str = ""

    def fields(self) -> dict[str, str]:
        return {"agent": self.agent, "action": self.action, "conversation": self.conversation,
                "customer": self.customer, "via": self.via or VIA.get(),
                "detail": json.dumps(self.detail, sort_keys=True)}


@dataclass(frozen=True, slots=True)
class AuditQuery:
    agent: str | None = None
    conversation: str | None = None
    customer: str | None = None
    start_ms: int | None = None  # inclusive
    end_ms: int | None = None  # inclusive
    cursor: str | None = None  # the last entry id of the previous page
    limit: int = 50

    def matches(self, entry: dict[str, str]) -> bool:
        return ((self.agent is None or entry.get("agent") == self.agent)
                and (self.conversation is None or entry.get("conversation") == self.conversation)
                and (self.customer is None or entry.get("customer") == self.customer))


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[dict[str, object]]
    next_cursor: str | None  # None: nothing older matches the range

    def public(self) -> dict[str, object]:
        return {"entries": self.entries, "next_cursor": self.next_cursor}


def entry_json(entry_id: str, entry: dict[str, str]) -> dict[str, object]:
    try:
        detail = json.loads(entry.get("detail", "{}"))
    except ValueError:
        detail = {}
    return {"id": entry_id, "at": codec.iso(codec.from_ms(int(entry_id.partition("-")[0]))),
            "agent": entry.get("agent", ""), "via": entry.get("via", ""), "action": entry.get("action", ""),
            "conversation": entry.get("conversation") or None, "customer": entry.get("customer") or None,
            "detail": detail}


class AuditLog:
    def __init__(self, redis: Redis, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.redis = redis
        self.max_entries = max_entries

    async def record(self, entry: AuditEntry) -> str:
        # Approximate trimming: Redis drops whole nodes, so the bound costs nothing per write.
        entry_id = await self.redis.xadd(AUDIT_KEY, redisio.fields(entry.fields()), maxlen=self.max_entries,
                                         approximate=True)
        return redisio.text(entry_id)

    async def record_rules(self, *, agent: str, outcome: str, path: str, version: str, previous: str,
                           trigger: str, error: str = "") -> bool:
        """A rule file taking effect ("loaded"), refused, or reloaded with no change ("unchanged").

        Every web process watches the file and reloads on its own; the first to record an
        outcome wins (``SET … GET`` returns what was there), the others find it recorded. A
        reload someone asked for through the API is always recorded. Returns whether it was.
        """
        if outcome != "unchanged":
            state = f"{outcome}:{path}:{version}" if outcome == "loaded" else f"{outcome}:{path}:{error}"
            reply = await self.redis.set(RULES_STATE_KEY, state, get=True)  # the previous value
            seen = redisio.optional_text(reply) if not isinstance(reply, bool) else None
            if seen == state and trigger != "api":
                return False
        detail = {"outcome": outcome, "path": path, "version": version, "previous_version": previous,
                  "trigger": trigger}
        if error:
            detail["error"] = error[:2000]
        await self.record(AuditEntry(agent=agent, action="rules_reload", detail=detail))
        return True

    async def query(self, query: AuditQuery) -> AuditPage:
        """Newest first; reads at most ``SCAN_BUDGET`` entries, then hands back a cursor to go on."""
        if query.cursor is not None and not (
                ENTRY_ID.fullmatch(query.cursor) and all(int(part) <= MAX_ID_PART for part in query.cursor.split("-"))):
            raise InvalidRequest("cursor must be the next_cursor of a previous page")
        if query.end_ms is not None and query.end_ms < 0:
            return AuditPage([], None)  # before 1970: nothing was written then
        end = str(min(query.end_ms, MAX_ID_PART)) if query.end_ms is not None else "+"
        upper = f"({query.cursor}" if query.cursor else end
        lower = str(max(query.start_ms, 0)) if query.start_ms is not None else "-"
        found: list[dict[str, object]] = []
        scanned = 0
        last: str | None = None
        while scanned < SCAN_BUDGET:
            batch = redisio.stream_entries(await self.redis.xrevrange(AUDIT_KEY, upper, lower, count=SCAN_BATCH))
            for entry_id, entry in batch:
                last = entry_id
                if query.matches(entry):
                    found.append(entry_json(entry_id, entry))
                    if len(found) == query.limit:
                        return AuditPage(found, entry_id)
            scanned += len(batch)
            if len(batch) < SCAN_BATCH or last is None:
                return AuditPage(found, None)
            upper = f"({last}"
        return AuditPage(found, last)


def instant_ms(value: str | None, name: str) -> int | None:
    """``from`` / ``to``: an ISO 8601 instant with its offset (``2026-12-03T10:00:00Z``)."""
    if value is None or value == "":
        return None
    # An unencoded "+01:00" in a query string arrives as " 01:00": take it as meant.
    value = re.sub(r" (\d\d:?\d\d)$", r"+\1", value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO 8601 instant, e.g. 2026-12-03T10:00:00Z") from None
    if moment.tzinfo is None:
        raise InvalidRequest(f"{name} must carry a timezone offset (Z or +01:00)")
    return codec.to_ms(moment)


# Domain event → audit action. Events an agent (or the gateway acting for one) caused; a
# customer's own messages and the routing rules' decisions are the timeline's, not the audit's.
ACTIONS: dict[EventKind, str] = {
    EventKind.ROUTED: "reroute",  # only when an agent asked for it (the event then names them)
    EventKind.REPLIED: "reply",
    EventKind.NOTED: "note",
    EventKind.TRANSFERRED: "transfer",
    EventKind.ESCALATED: "escalate",
    EventKind.ASSIGNED: "assign",
    EventKind.RESOLVED: "resolve",
    EventKind.REOPENED: "reopen",
    EventKind.MERGED: "merge",
    EventKind.LINKED: "link_identity",
    EventKind.CUSTOMER_UPDATED: "customer_edit",
}


def entry_for(event: ConversationEvent) -> AuditEntry | None:
    """The audit entry of a domain event, or None when no one acted (a customer reopening by writing)."""
    action = ACTIONS.get(event.kind)
    agent = event.detail.get("by", "")
    if action is None or not agent:
        return None
    detail = {k: v for k, v in event.detail.items() if k != "by" and v != ""}
    if event.message_id:
        detail["message"] = event.message_id
    return AuditEntry(agent=agent, action=action, conversation=event.conversation_id, customer=event.customer_id,
                      detail=detail)


def listener(log: AuditLog) -> Callable[[ConversationEvent], Awaitable[None]]:
    async def on_event(event: ConversationEvent) -> None:
        entry = entry_for(event)
        if entry is not None:
            await log.record(entry)

    return on_event
