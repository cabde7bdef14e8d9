"""SLA timers as data: deadlines on the conversation, indexed in one sorted set.

Layout:
- conversation hash: ``sla_<clock>_due`` and ``sla_<clock>_warning_due`` (ms
  epoch; the Slack side shows them), ``sla_generation`` (bumped whenever a
  deadline changes) and ``sla_<clock>_<kind>_fired`` (the due ms that already
  fired, so each deadline warns and breaches once).
- ``gw:timers``: sorted set, member ``<conversation>|<clock>|<kind>|<generation>``,
  score = due ms. The sweeper claims due members (see ``sweeper.py``).

Arming writes the new members *before* the conversation's generation, so a
deadline on a conversation always has its member; old members are removed
afterwards, and any that survive a crash fire, find another generation and
do nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis.asyncio import Redis

from conversations import changes, codec
from conversations.changes import PENDING_ESCALATION
from conversations.clock import now_ms
from conversations.errors import NotFound
from conversations.events import ConversationEvent, EventKind
from conversations.models import Conversation, Message
from conversations.store import Change, ConversationStore
from router import RuleSet, SlaPolicy
from workers import escalation, keys, metrics, sla
from workers.context import Services
from workers.sla import CLOCKS, KINDS, Deadline

log = logging.getLogger("gateway.timers")

GENERATION = "sla_generation"
# A deadline computed at fire time may sit a few ms after its (floored) score.
EARLY_TOLERANCE = timedelta(seconds=1)
SLA_EVENTS = {"warning": EventKind.SLA_WARNING, "breach": EventKind.SLA_BREACH}


def due_field(clock: str, kind: str = "breach") -> str:
    return f"sla_{clock}_due" if kind == "breach" else f"sla_{clock}_warning_due"


def fired_field(clock: str, kind: str) -> str:
    return f"sla_{clock}_{kind}_fired"


@dataclass(frozen=True, slots=True)
class TimerRef:
    """One armed timer: which conversation, clock, warning or breach, and generation."""

    conversation_id: str
    clock: str
    kind: str
    generation: int

    @property
    def member(self) -> str:
        return f"{self.conversation_id}|{self.clock}|{self.kind}|{self.generation}"

    @property
    def trigger(self) -> str:
        return f"{self.clock}.{self.kind}"

    @classmethod
    def parse(cls, member: str | bytes) -> TimerRef:
        text = member.decode() if isinstance(member, bytes) else member
        conversation_id, clock, kind, generation = text.split("|")
        return cls(conversation_id, clock, kind, int(generation))


def members_of(conversation_id: str, generation: int) -> list[str]:
    return [TimerRef(conversation_id, c, k, generation).member for c in CLOCKS for k in KINDS]


# -- computing ------------------------------------------------------------------------


def policy_for(rules: RuleSet, conversation: Conversation) -> SlaPolicy | None:
    if not conversation.queue:
        return None
    return rules.sla_policy_for(conversation.queue, conversation.sla_policy)


def deadlines_of(rules: RuleSet, conversation: Conversation, timeline: list[Message]) -> dict[str, Deadline]:
    """Running clocks of a live, routed conversation under its policy; empty if it has none."""
    if not conversation.is_live:
        return {}
    policy = policy_for(rules, conversation)
    if policy is None:
        return {}
    calendar = rules.calendar_for(policy)
    restarts = sla.restarts_from(conversation.extra, codec.from_ms)
    return sla.plan(policy, sla.CalendarTime(calendar), timeline, conversation.created_at, restarts)


def deadline_fields(deadlines: dict[str, Deadline]) -> dict[str, str]:
    """Hash fields for every clock: ms epoch, or "" for a clock that is not running."""
    fields: dict[str, str] = {}
    for clock in CLOCKS:
        deadline = deadlines.get(clock)
        for kind in KINDS:
            at = deadline.at(kind) if deadline else None
            fields[due_field(clock, kind)] = str(codec.to_ms(at)) if at else ""
    return fields


# -- arming ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arming:
    """What arming writes: the deadline fields and the new generation, its ``gw:timers`` members."""

    fields: dict[str, str | int]
    delete_fields: list[str]
    members: dict[str, int]  # member -> due ms
    old_generation: int  # whose members to remove once the fields are written (0: none)


def arming_of(rules: RuleSet, current: Conversation, timeline: list[Message]) -> Arming | None:
    """The change arming makes to ``current`` given its timeline; None if its deadlines stand."""
    wanted = deadline_fields(deadlines_of(rules, current, timeline))
    if all(current.extra.get(name, "") == value for name, value in wanted.items()):
        return None
    generation = int(current.extra.get(GENERATION) or 0) + 1
    members = {}
    for name, value in wanted.items():
        if value:
            clock, kind = _clock_kind(name)
            members[TimerRef(current.id, clock, kind, generation).member] = int(value)
    return Arming(fields={**{k: v for k, v in wanted.items() if v}, GENERATION: generation},
                  delete_fields=[k for k, v in wanted.items() if not v and k in current.extra],
                  members=members, old_generation=generation - 1)


async def arm(store: ConversationStore, rules: RuleSet, conversation_id: str) -> bool:
    """Recompute the conversation's deadlines and index them; True if anything changed.

    One conversation; the sweeper arms its marked conversations a batch at a time (``arming.py``).
    """
    old_generation: list[int] = []

    async def apply(current: Conversation) -> Change:
        old_generation[:] = []
        arming = arming_of(rules, current, await store.messages(conversation_id))
        if arming is None:
            return Change()
        if arming.members:
            # Before the hash: a crash here leaves members that fire and find another generation.
            await store.redis.zadd(keys.TIMERS, arming.members)
        old_generation.append(arming.old_generation)
        return Change(fields=arming.fields, delete_fields=arming.delete_fields)

    try:
        _, change = await store.mutate(conversation_id, apply)
    except NotFound:
        return False
    if change and old_generation and old_generation[0] > 0:
        await store.redis.zrem(keys.TIMERS, *members_of(conversation_id, old_generation[0]))
    return bool(change)


def _clock_kind(field: str) -> tuple[str, str]:
    body = field[len("sla_"):-len("_due")]
    if body.endswith("_warning"):
        return body[: -len("_warning")], "warning"
    return body, "breach"


# -- firing ---------------------------------------------------------------------------


@dataclass(slots=True)
class FireOutcome:
    result: str = "stale"  # fired, stale, old, already, gone
    at: datetime | None = None
    alert_channel: str | None = None
    pending: bool = False  # an escalation waits to be carried out
    change: Change | None = None  # what firing writes (fired only)


def decide(rules: RuleSet, current: Conversation, timeline: list[Message], ref: TimerRef, now: datetime) -> FireOutcome:
    """What firing ``ref`` does to ``current`` (pure; ``fire`` and the sweeper's batches share it).

    A timer of an older generation is ``old``; one whose clock stopped or moved is ``stale``; a
    deadline that fired already is ``already``. Otherwise ``fired``, with the change to write in one
    step: the fired mark, an event on the timeline, and a pending escalation if the rule file's path
    takes one on this trigger (or, at the last tier, an alert).
    """
    outcome = FireOutcome(pending=bool(current.extra.get(PENDING_ESCALATION)))
    if current.extra.get(GENERATION) != str(ref.generation):
        outcome.result = "old"  # an older generation: its replacement is armed already
        return outcome
    deadline = deadlines_of(rules, current, timeline).get(ref.clock)
    at = deadline.at(ref.kind) if deadline else None
    if at is None or at > now + EARLY_TOLERANCE:
        return outcome
    due_ms = codec.to_ms(at)
    outcome.at = at
    if current.extra.get(fired_field(ref.clock, ref.kind)) == str(due_ms):
        outcome.result = "already"
        return outcome
    outcome.result = "fired"
    label = ref.clock.replace("_", " ")
    late = "warning" if ref.kind == "warning" else "breached"
    text = f"SLA {label} {late}: due {codec.iso(at)} ({_policy_name(rules, current)} policy)"
    meta = {"clock": ref.clock, "due": str(due_ms), "queue": current.queue, "tier": str(current.tier)}
    fields: dict[str, str | int] = {fired_field(ref.clock, ref.kind): due_ms}
    messages = [changes.event_message(current, f"sla_{ref.kind}", text, now, meta)]
    step = escalation.step_for(rules, current, ref.trigger)
    if step is not None:
        fields[PENDING_ESCALATION] = f"{ref.trigger}@{due_ms}"
        outcome.pending = True
    elif ref.kind == "breach" and escalation.at_last_tier(rules, current):
        outcome.alert_channel = escalation.alert_channel(rules, current.queue) or ""
        messages.append(changes.event_message(
            current, "sla_alert", f"SLA alert: {label} breached at the last tier ({current.queue} tier "
            f"{current.tier}); nobody to escalate to", now, {**meta, "alert_channel": outcome.alert_channel}))
    outcome.change = Change(fields=fields, messages=messages)
    return outcome


async def fire(services: Services, ref: TimerRef, now: datetime) -> str:
    """Fire one due timer if it still stands (``decide``); safe to run any number of times.

    Re-reads the conversation and writes in one atomic step; a stale timer reconciles the index.
    """
    store = services.store
    rules = services.rules.current
    outcome = FireOutcome()

    async def apply(current: Conversation) -> Change:
        decided = decide(rules, current, await store.messages(ref.conversation_id), ref, now)
        outcome.result, outcome.at = decided.result, decided.at
        outcome.alert_channel, outcome.pending = decided.alert_channel, decided.pending
        return decided.change or Change()

    try:
        before, change = await store.mutate(ref.conversation_id, apply)
    except NotFound:
        return "gone"
    if change:
        await fired(services, ref, before, outcome, now)
    elif outcome.result == "stale":
        await arm(store, rules, ref.conversation_id)  # the index disagrees with the state: reconcile
    if outcome.pending:  # decided now, or by an earlier firing that died before escalating
        await escalation.finish_pending(services, await store.conversation(ref.conversation_id))
    return "stale" if outcome.result == "old" else outcome.result


async def fired(services: Services, ref: TimerRef, before: Conversation, outcome: FireOutcome, now: datetime) -> None:
    """After a firing's write: the SLA event and the lateness metric."""
    detail = {"clock": ref.clock, "due": codec.iso(outcome.at) or "", "queue": before.queue,
              "tier": str(before.tier)}
    if outcome.alert_channel is not None:
        detail.update({"alert": "1", "alert_channel": outcome.alert_channel})
    await services.events.emit(ConversationEvent(SLA_EVENTS[ref.kind], ref.conversation_id,
                                                before.customer_id, detail=detail))
    lateness = (now - outcome.at).total_seconds() if outcome.at else 0.0
    await metrics.record_fire(services.store.redis, ref.kind, before.queue, ref.clock, lateness)


# -- what needs arming ------------------------------------------------------------------

async def mark_dirty(redis: Redis, conversation_id: str) -> None:
    """Called by the event listener on the process's async client; the sweeper re-arms marked conversations in batches.

    A Redis mark rather than a job per event: arming is a few ms of Redis work, a forked RQ job
    costs tens of ms, and the mark survives any crash until the sweeper has armed it.
    """
    await redis.zadd(keys.TIMERS_DIRTY, {conversation_id: now_ms()})


def _policy_name(rules: RuleSet, conversation: Conversation) -> str:
    policy = policy_for(rules, conversation)
    return policy.name if policy else ""
