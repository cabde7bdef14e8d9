"""Pure: where a conversation stands in the backlog indexes, and the listing cursor.

Every conversation sits in exactly one *bucket*: its (queue, status, tier,
channel, folded) combination. Each bucket has two sorted sets in Redis
(``index.py``): by activity (newest first) and, for live conversations, by
urgency (earliest SLA deadline first). A listing's filters pick buckets; the
page is a merge of those buckets' sorted sets. Storing each conversation once
per order (not once per filter combination) keeps the index at two entries
per live conversation and one per resolved one.

Scores are integers (ms), exact in a double: activity is ``-updated_at`` so
that every order ascends; urgency is the earliest running SLA breach
deadline, or, for a conversation without a running clock, ``NO_DEADLINE +
updated_at`` (after every deadline, the longest-quiet first). Ties are
broken by conversation id, the order Redis keeps equal scores in.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from conversations.errors import InvalidRequest

# Above any epoch-ms deadline (4e15 ms is some 127,000 years from 1970) and, plus an epoch ms,
# still below 2**53, so the score stays an exact integer in Redis's double.
NO_DEADLINE = 4_000_000_000_000_000
VERSION_FIELD = "index_version"  # bumped with every change of the conversation hash
FOLDED_FIELD = "merged_into_conversation"  # a merge folded this conversation into another (merge.py)
LIVE = frozenset({"open", "pending"})


class Order(enum.StrEnum):
    ACTIVITY = "activity"  # most recently active first
    URGENCY = "urgency"  # earliest SLA deadline first; live conversations only


@dataclass(frozen=True, slots=True)
class Bucket:
    queue: str  # "" while unrouted
    status: str
    tier: int
    channel: str  # the customer's last channel, "" if none
    folded: bool

    @property
    def id(self) -> str:
        """A short stable key suffix: queue names come from a rule file and may hold any character."""
        return hashlib.sha256(self.json().encode()).hexdigest()[:16]

    def json(self) -> str:
        return json.dumps([self.queue, self.status, self.tier, self.channel, self.folded], separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> Bucket:
        queue, status, tier, channel, folded = json.loads(text)
        return cls(str(queue), str(status), int(tier), str(channel), bool(folded))

    @property
    def live(self) -> bool:
        return self.status in LIVE


@dataclass(frozen=True, slots=True)
class Entry:
    """What the index holds for one conversation at one version."""

    conversation_id: str
    version: int
    bucket: Bucket
    activity: int  # score in the activity order
    urgency: int | None  # score in the urgency order; None for a resolved conversation


def sla_due_ms(fields: Mapping[str, str]) -> int | None:
    """The earliest running SLA breach deadline (``sla_<clock>_due``, never a warning), or None."""
    dues = [int(value) for name, value in fields.items()
            if name.startswith("sla_") and name.endswith("_due") and not name.endswith("_warning_due")
            and value.isdigit()]
    return min(dues) if dues else None


def entry_of(fields: Mapping[str, str]) -> Entry:
    """The index entry of a conversation hash (as stored, all text)."""
    updated = int(fields.get("updated_at") or fields.get("created_at") or 0)
    bucket = Bucket(queue=fields.get("queue", ""), status=fields.get("status", "open"),
                    tier=int(fields.get("tier") or 1), channel=fields.get("last_inbound_channel", ""),
                    folded=bool(fields.get(FOLDED_FIELD)))
    urgency: int | None = None
    if bucket.live:
        due = sla_due_ms(fields)
        urgency = due if due is not None else NO_DEADLINE + updated
    return Entry(fields["id"], int(fields.get(VERSION_FIELD) or 0), bucket, -updated, urgency)


def after_change(fields: Mapping[str, str], changed: Mapping[str, object], deleted: Iterable[str]) -> dict[str, str]:
    """The hash as a change leaves it: read fields, then the written ones, minus the deleted ones."""
    result = {**fields, **{name: str(value) for name, value in changed.items()}}
    for name in deleted:
        result.pop(name, None)
    return result


@dataclass(frozen=True, slots=True)
class Filter:
    """Which buckets a listing reads. Empty means any; folded conversations only when a status is asked."""

    queues: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    tiers: frozenset[int] = frozenset()
    channels: frozenset[str] = frozenset()
    routed_only: bool = False  # leave out conversations no rule has routed yet (queue "")

    def matches(self, bucket: Bucket, order: Order) -> bool:
        if order == Order.URGENCY and not bucket.live:
            return False
        if self.routed_only and not bucket.queue:
            return False
        if bucket.folded and not self.statuses:
            return False
        return ((not self.queues or bucket.queue in self.queues)
                and (not self.statuses or bucket.status in self.statuses)
                and (not self.tiers or bucket.tier in self.tiers)
                and (not self.channels or bucket.channel in self.channels))


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the previous page ended: its last item's score and id, in one order."""

    order: Order
    score: int
    member: str

    def encode(self) -> str:
        raw = json.dumps([self.order.value, self.score, self.member], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, order: Order) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            name, score, member = json.loads(raw)
            cursor = cls(Order(name), int(score), str(member))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise InvalidRequest("cursor is not one this API returned; start again without it") from None
        if cursor.order != order:
            raise InvalidRequest(f"this cursor belongs to sort={cursor.order.value}, not sort={order.value}")
        return cursor
