"""One conversation's report facts, computed from its stored state: pure, no I/O.

A ``Facts`` row is what the reports know of a conversation: when it opened, its
queue, tier and first channel, message counts, first response and resolution
times (wall clock and business seconds), SLA warnings and breaches per clock,
escalations, transfers and CSAT. It is recomputed whole from the conversation
hash and timeline every time something happens to the conversation, so
recomputing gives the same row and a redelivered event changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversations.models import Conversation, Direction, Message, Status
from router import Calendar, SlaPolicy, business_time_between

CLOCKS = ("first_response", "next_response", "resolution")
VERSION = 1  # bumped when the row layout changes; older rows are recomputed by `gateway report --rebuild`


@dataclass(frozen=True, slots=True)
class Facts:
    stamp: str  # the last timeline entry id the row was computed from (newer rows win)
    conversation_id: str
    opened_ms: int
    queue: str
    tier: int
    channel: str  # the channel the customer opened it on
    reopens: int
    messages_in: int
    messages_out: int
    agent_replies: int  # outbound messages by an agent (automatic ones do not count)
    first_response: float | None  # seconds from opening to the first agent reply
    first_response_business: float | None  # the same in the SLA calendar's open hours; None without calendar
    resolution: float | None  # seconds from opening to the (last) resolve, if resolved now
    resolution_business: float | None
    warnings: tuple[int, int, int]  # per clock of CLOCKS
    breaches: tuple[int, int, int]
    tracked: tuple[int, int, int]  # 1 where the conversation's SLA policy runs that clock
    escalations: int
    transfers: int
    csat_sent: int
    rating: int | None

    @property
    def resolved(self) -> bool:
        return self.resolution is not None

    @property
    def first_contact_resolved(self) -> bool:
        return self.resolved and self.agent_replies == 1 and self.reopens == 0

    def row(self) -> str:
        """The stored form: a JSON array, stamp first (the store's script compares it)."""
        return json.dumps([
            self.stamp, VERSION, self.conversation_id, self.opened_ms, self.queue, self.tier, self.channel,
            self.reopens, self.messages_in, self.messages_out, self.agent_replies, self.first_response,
            self.first_response_business, self.resolution, self.resolution_business, list(self.warnings),
            list(self.breaches), list(self.tracked), self.escalations, self.transfers, self.csat_sent,
            self.rating,
        ], separators=(",", ":"))

    @classmethod
    def from_row(cls, row: str) -> Facts:
        v: list[Any] = json.loads(row)
        return cls(v[0], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13], v[14],
                   _triple(v[15]), _triple(v[16]), _triple(v[17]), v[18], v[19], v[20], v[21])


def _triple(values: list[int]) -> tuple[int, int, int]:
    return values[0], values[1], values[2]


def _seconds(start_ms: int, end_ms: int) -> float:
    return max(0, end_ms - start_ms) / 1000


def compute(conversation: Conversation, timeline: list[Message], stamp: str, policy: SlaPolicy | None,
            calendar: Calendar | None) -> Facts:
    """The row of ``conversation`` as stored now; ``policy``/``calendar`` are its SLA policy's, if any."""
    opened = conversation.created_at
    opened_ms = _ms(opened)
    messages_in = messages_out = agent_replies = escalations = transfers = csat_sent = 0
    warnings = [0, 0, 0]
    breaches = [0, 0, 0]
    rating: int | None = None
    channel = ""
    for message in timeline:
        if message.direction == Direction.INBOUND:
            messages_in += 1
            if not channel and message.channel is not None:
                channel = message.channel.value
        elif message.direction == Direction.OUTBOUND:
            messages_out += 1
            if message.meta.get("automatic") != "1":
                agent_replies += 1
        elif message.direction == Direction.EVENT:
            kind = message.kind or ""
            if kind in ("sla_warning", "sla_breach"):
                clock = message.meta.get("clock", "")
                if clock in CLOCKS:
                    (warnings if kind == "sla_warning" else breaches)[CLOCKS.index(clock)] += 1
            elif kind == "escalated":
                escalations += 1
            elif kind == "transferred":
                transfers += 1
            elif kind == "csat_sent":
                csat_sent = 1
            elif kind == "csat_rated":
                rating = _rating(message.meta.get("rating"))
    if not channel and conversation.last_inbound_channel is not None:
        channel = conversation.last_inbound_channel.value
    tracked = [1 if (policy is not None and policy.target(clock) is not None) or breaches[i] or warnings[i] else 0
               for i, clock in enumerate(CLOCKS)]

    first = conversation.first_response_at
    resolved = conversation.resolved_at if conversation.status == Status.RESOLVED else None
    return Facts(
        stamp=stamp, conversation_id=conversation.id, opened_ms=opened_ms, queue=conversation.queue,
        tier=conversation.tier, channel=channel, reopens=conversation.reopen_count, messages_in=messages_in,
        messages_out=messages_out, agent_replies=agent_replies,
        first_response=_seconds(opened_ms, _ms(first)) if first else None,
        first_response_business=business_time_between(opened, first, calendar).total_seconds()
        if first and calendar is not None else None,
        resolution=_seconds(opened_ms, _ms(resolved)) if resolved else None,
        resolution_business=business_time_between(opened, resolved, calendar).total_seconds()
        if resolved and calendar is not None else None,
        warnings=_triple(warnings), breaches=_triple(breaches), tracked=_triple(tracked),
        escalations=escalations, transfers=transfers, csat_sent=csat_sent, rating=rating,
    )


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _rating(value: str | None) -> int | None:
    if value is not None and value.strip() in ("1", "2", "3", "4", "5"):
        return int(value.strip())
    return None
