"""The service verbs: ingest, route, reply, note, transfer, escalate, assign, resolve, reopen.

Each verb is one atomic change of one conversation (``store.mutate``) whose
decision is a pure function of the state it read, followed by a domain event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from channels.base import InboundMessage
from conversations import codec, ids
from conversations.errors import Conflict, InvalidRequest
from conversations.events import ConversationEvent, EventBus, EventKind
from conversations.merge import merge_customers
from conversations.models import (
    TIERS,
    Channel,
    Conversation,
    Customer,
    DeliveryStatus,
    Direction,
    Identity,
    Message,
    MessageId,
    Priority,
    Status,
)
from conversations.store import Change, ConversationStore, IngestResult

MANUAL_ROUTING = "routing_manual"  # set by an agent's transfer: routing no longer overrides it


class RoutingDecision(Protocol):
    queue: str
    tier: int
    priority: Priority
    tags: tuple[str, ...]
    sla_policy: str | None
    rule: str | None
    auto_reply: str | None


class Rules(Protocol):
    """What the service needs of the rule file (``router.RuleSet`` provides it)."""

    queues: dict

    def decide(
        self, conversation: Conversation | None, message: InboundMessage | None, customer: Customer | None, now: datetime
    ) -> RoutingDecision: ...

    def sla_policy_for(self, queue: str, explicit: str | None) -> object | None: ...


@dataclass(frozen=True, slots=True)
class Escalation:
    """Where an escalation takes a conversation; the workers' escalation path computes it."""

    tier: int
    queue: str | None = None
    priority: Priority | None = None
    sla_policy: str | None = None  # switch the conversation's SLA policy
    restart: tuple[str, ...] = ()  # SLA clocks that start over (written as sla_<clock>_restarted_at)


# Set by the SLA sweeper when a timer decides an escalation; ``escalate(once=...)`` consumes it,
# so a crash between the two finishes the escalation once on the timer's re-fire.
PENDING_ESCALATION = "escalation_pending"


def utcnow() -> datetime:
    return datetime.now(UTC)


class ConversationService:
    def __init__(
        self,
        store: ConversationStore,
        rules: Callable[[], Rules],
        events: EventBus | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.rules = rules
        self.events = events or EventBus()
        self.clock = clock

    # -- customer messages -------------------------------------------------------

    async def ingest(self, message: InboundMessage) -> IngestResult:
        """Store a customer message once, link proven identities, route a new or reopened conversation."""
        result = await self.store.ingest(message, now=self.clock())
        if result.duplicate:
            return result
        for identity in message.linked:
            if identity != message.identity:
                await self._link_if_new(result.customer_id, identity)
        await self.events.emit(
            ConversationEvent(
                EventKind.INGESTED, result.conversation_id, result.customer_id, result.message_id,
                {"outcome": result.outcome, "channel": message.channel.value},
            )
        )
        if result.outcome == "reopened":
            await self.events.emit(ConversationEvent(EventKind.REOPENED, result.conversation_id, result.customer_id))
        if result.started or not result.queue:
            decision = await self.route(result.conversation_id, message)
            if decision and decision.auto_reply and result.started and not message.automatic:
                await self.reply(result.conversation_id, decision.auto_reply, author="auto-reply", automatic=True)
        return result

    async def _link_if_new(self, customer_id: str, identity: Identity) -> None:
        """Link a proven identity, once: later messages find it already theirs without a merge."""
        if await self.store.customer_for(identity) != customer_id:
            await self.link_identity(customer_id, identity, author="verification")

    # -- routing ---------------------------------------------------------------------

    async def route(
        self, conversation_id: str, message: InboundMessage | None = None, *, force: bool = False
    ) -> RoutingDecision | None:
        """Ask the rules where the conversation goes; an agent's transfer wins unless forced."""
        conversation = await self.store.conversation(conversation_id)
        customer = await self.store.current_customer(conversation.customer_id)
        if conversation.extra.get(MANUAL_ROUTING) and not force:
            return None
        now = self.clock()
        rules = self.rules()
        decision = rules.decide(conversation, message, customer, now)

        def apply(current: Conversation) -> Change:
            tags = tuple(dict.fromkeys((*current.tags, *decision.tags)))
            text = f"Routed to {decision.queue} tier {decision.tier}, {decision.priority.value} priority"
            text += f" by rule {decision.rule!r}" if decision.rule else ""
            return Change(
                fields={
                    "queue": decision.queue, "tier": decision.tier, "priority": decision.priority.value,
                    "tags": json.dumps(tags), "sla_policy": decision.sla_policy or "",
                    "rule": decision.rule or "", "routed_at": codec.to_ms(now), "updated_at": codec.to_ms(now),
                },
                messages=[self._event(current, "routed", text, now, {"rule": decision.rule or ""})],
                delete_fields=[MANUAL_ROUTING] if force else [],
            )

        await self.store.mutate(conversation_id, apply)
        await self.events.emit(
            ConversationEvent(
                EventKind.ROUTED, conversation_id, conversation.customer_id,
                detail={"queue": decision.queue, "tier": str(decision.tier), "rule": decision.rule or "",
                        "previous_queue": conversation.queue, "previous_tier": str(conversation.tier)},
            )
        )
        return decision

    # -- agent actions -----------------------------------------------------------------

    async def reply(
        self,
        conversation_id: str,
        text: str,
        author: str,
        *,
        channel: Channel | None = None,
        automatic: bool = False,
        meta: dict[str, str] | None = None,
    ) -> Message:
        """Store an outbound message (delivery queued) on the customer's last channel, or ``channel``."""
        text = _required(text, "text")
        now = self.clock()
        message_id = MessageId(ids.message_id())
        created: list[Message] = []

        def apply(current: Conversation) -> Change:
            target = channel or current.last_inbound_channel
            if target is None:
                raise InvalidRequest("the conversation has no customer channel to reply on")
            address = current.extra.get(f"address:{target.value}")
            if not address:
                raise InvalidRequest(f"the customer has not written on {target.value}; pick another channel")
            message = Message(
                id=message_id, conversation_id=current.id, direction=Direction.OUTBOUND, channel=target,
                author=author, text=text, created_at=now, delivery=DeliveryStatus.QUEUED,
                meta={**(meta or {}), "to": address, **({"automatic": "1"} if automatic else {})},
            )
            created[:] = [message]
            fields: dict[str, str | int] = {"updated_at": codec.to_ms(now)}
            if not automatic:
                # An agent answered: the conversation now waits on the customer.
                fields["status"] = Status.PENDING.value
                fields["last_agent_reply_at"] = codec.to_ms(now)
                if current.first_response_at is None:
                    fields["first_response_at"] = codec.to_ms(now)
            return Change(fields=fields, messages=[message],
                          delivery={message_id: codec.delivery_state(DeliveryStatus.QUEUED)})

        before, _ = await self.store.mutate(conversation_id, apply)
        await self.events.emit(
            ConversationEvent(EventKind.REPLIED, conversation_id, before.customer_id, message_id,
                              {"channel": created[0].channel.value, "automatic": "1" if automatic else ""})
        )
        return created[0]

    async def note(self, conversation_id: str, text: str, author: str) -> Message:
        """An internal note: stored, shown to agents, never sent to the customer."""
        text = _required(text, "text")
        now = self.clock()
        note = Message(id=MessageId(ids.message_id()), conversation_id=conversation_id,  # type: ignore[arg-type]
                       direction=Direction.NOTE, channel=None, author=author, text=text, created_at=now)
        before, _ = await self.store.mutate(
            conversation_id, lambda current: Change(fields={"updated_at": codec.to_ms(now)}, messages=[note])
        )
        await self.events.emit(ConversationEvent(EventKind.NOTED, conversation_id, before.customer_id, note.id))
        return note

    async def transfer(self, conversation_id: str, queue: str, author: str, reason: str | None = None) -> Conversation:
        """Move to another queue (tier 1), keeping the whole history; routing stops overriding it."""
        rules = self.rules()
        if queue not in rules.queues:
            raise InvalidRequest(f"unknown queue {queue!r}; known: {', '.join(sorted(rules.queues))}")
        policy = rules.sla_policy_for(queue, None)
        now = self.clock()

        def apply(current: Conversation) -> Change:
            if current.queue == queue:
                raise Conflict(f"the conversation is already in the {queue} queue")
            text = f"{author} transferred the conversation from {current.queue or 'no queue'} to {queue}"
            text += f": {reason}" if reason else ""
            return Change(
                fields={"queue": queue, "tier": 1, "rule": f"transfer by {author}", MANUAL_ROUTING: "1",
                        "sla_policy": getattr(policy, "name", "") or "", "updated_at": codec.to_ms(now)},
                messages=[self._event(current, "transferred", text, now,
                                      {"from": current.queue, "to": queue, "by": author, "reason": reason or ""})],
            )

        before, _ = await self.store.mutate(conversation_id, apply)
        await self.events.emit(ConversationEvent(
            EventKind.TRANSFERRED, conversation_id, before.customer_id,
            detail={"from": before.queue, "to": queue, "from_tier": str(before.tier), "by": author, "reason": reason or ""},
        ))
        return await self.store.conversation(conversation_id)

    async def escalate(
        self, conversation_id: str, author: str, reason: str | None = None, *, target: Escalation | None = None,
        once: str | None = None,
    ) -> Conversation:
        """Raise the tier: to ``target``, else the rule file's step for an agent, else by one.

        ``once``: escalate only if the conversation's pending escalation is this key (and clear it),
        so a timer that fires again after a crash cannot escalate twice.
        """
        now = self.clock()
        rules = self.rules()

        def apply(current: Conversation) -> Change:
            if once is not None and current.extra.get(PENDING_ESCALATION) != once:
                return Change()
            goal = target or _agent_step(rules, current) or Escalation(tier=current.tier + 1)
            queue = goal.queue or current.queue
            if goal.tier not in TIERS:
                raise Conflict(f"tier {current.tier} is the last tier; the conversation cannot escalate further")
            if goal.tier <= current.tier and queue == current.queue:
                raise Conflict(f"the conversation is already at tier {current.tier}")
            fields: dict[str, str | int] = {"tier": goal.tier, "queue": queue, "updated_at": codec.to_ms(now)}
            if goal.priority and goal.priority.rank > current.priority.rank:
                fields["priority"] = goal.priority.value
            policy = goal.sla_policy
            if policy is None and queue != current.queue:
                policy = getattr(rules.sla_policy_for(queue, None), "name", None)
            if policy:
                fields["sla_policy"] = policy
            for clock in goal.restart:
                fields[f"sla_{clock}_restarted_at"] = codec.to_ms(now)
            text = f"{author} escalated to {queue} tier {goal.tier}" + (f": {reason}" if reason else "")
            return Change(fields=fields, delete_fields=[PENDING_ESCALATION] if once is not None else [],
                          messages=[self._event(
                current, "escalated", text, now,
                {"from_tier": str(current.tier), "to_tier": str(goal.tier), "from_queue": current.queue,
                 "to_queue": queue, "by": author, "reason": reason or ""})])

        before, change = await self.store.mutate(conversation_id, apply)
        after = await self.store.conversation(conversation_id)
        if not change:
            return after
        await self.events.emit(ConversationEvent(
            EventKind.ESCALATED, conversation_id, before.customer_id,
            detail={"from_tier": str(before.tier), "to_tier": str(after.tier), "from_queue": before.queue,
                    "to_queue": after.queue, "by": author, "reason": reason or ""},
        ))
        return after

    async def assign(self, conversation_id: str, agent: str | None, author: str) -> Conversation:
        now = self.clock()

        def apply(current: Conversation) -> Change:
            if current.assignee == agent:
                return Change()
            text = f"{author} assigned the conversation to {agent}" if agent else f"{author} unassigned the conversation"
            change = Change(fields={"updated_at": codec.to_ms(now)},
                            messages=[self._event(current, "assigned", text, now, {"agent": agent or "", "by": author})])
            if agent:
                change.fields["assignee"] = agent
            else:
                change.delete_fields.append("assignee")
            return change

        before, change = await self.store.mutate(conversation_id, apply)
        if change:
            await self.events.emit(ConversationEvent(EventKind.ASSIGNED, conversation_id, before.customer_id,
                                                     detail={"agent": agent or "", "by": author}))
        return await self.store.conversation(conversation_id)

    async def resolve(self, conversation_id: str, author: str) -> Conversation:
        now = self.clock()

        def apply(current: Conversation) -> Change:
            if current.status == Status.RESOLVED:
                raise Conflict("the conversation is already resolved")
            return Change(fields={"status": Status.RESOLVED.value, "resolved_at": codec.to_ms(now),
                                  "updated_at": codec.to_ms(now)},
                          messages=[self._event(current, "resolved", f"{author} resolved the conversation", now,
                                                {"by": author})])

        before, _ = await self.store.mutate(conversation_id, apply)
        await self.events.emit(ConversationEvent(EventKind.RESOLVED, conversation_id, before.customer_id,
                                                 detail={"by": author}))
        return await self.store.conversation(conversation_id)

    async def reopen(self, conversation_id: str, author: str) -> Conversation:
        """Reopen a resolved conversation, if it is still the customer's latest one."""
        now = self.clock()
        conversation = await self.store.conversation(conversation_id)
        customer_conversations = await self.store.customer_conversation_ids(conversation.customer_id)
        if customer_conversations and customer_conversations[-1] != conversation_id:
            raise Conflict("a newer conversation of this customer exists; continue there")

        def apply(current: Conversation) -> Change:
            if current.status != Status.RESOLVED:
                raise Conflict(f"the conversation is {current.status.value}, not resolved")
            return Change(fields={"status": Status.OPEN.value, "reopen_count": current.reopen_count + 1,
                                  "updated_at": codec.to_ms(now)},
                          delete_fields=["resolved_at"],
                          messages=[self._event(current, "reopened", f"{author} reopened the conversation", now,
                                                {"by": author})])

        before, _ = await self.store.mutate(conversation_id, apply)
        await self.events.emit(ConversationEvent(EventKind.REOPENED, conversation_id, before.customer_id,
                                                 detail={"by": author}))
        return await self.store.conversation(conversation_id)

    async def link_identity(self, customer_id: str, identity: Identity, *, author: str) -> Customer:
        """Give a customer another identity; if it belongs to someone else, merge the two customers."""
        customer = await self.store.current_customer(customer_id)
        owner = await self.store.customer_for(identity)
        if owner is None:
            owner = await self.store.claim_identity_for(identity, customer.id)
        if owner == customer.id:
            await self.store.add_identity(customer.id, identity)
            return await self.store.customer(customer.id)
        other = await self.store.customer(owner)
        # The older customer survives, so ids people already hold stay valid.
        keep, fold = (other, customer) if other.created_at < customer.created_at else (customer, other)
        result = await merge_customers(self.store, keep.id, fold.id, now=self.clock(), author=author)
        await self.store.add_identity(keep.id, identity)
        await self.events.emit(ConversationEvent(
            EventKind.MERGED, result.live_conversation_id or "", keep.id,
            detail={"merged": fold.id, "identity": identity.key, "moved": ",".join(result.moved_conversations)},
        ))
        return await self.store.customer(keep.id)

    async def record_delivery(
        self,
        conversation_id: str,
        message_id: str,
        status: DeliveryStatus,
        *,
        error: str | None = None,
        provider_id: str | None = None,
        force: bool = False,
    ) -> bool:
        """A provider (or the outbound job) says where an outbound message is; agents see it.

        Returns False (and tells nobody) when the status would step back, e.g. a
        late "sent" after "delivered".
        """
        if not await self.store.set_delivery(conversation_id, message_id, status, error=error,
                                             provider_id=provider_id, force=force):
            return False
        conversation = await self.store.conversation(conversation_id)
        await self.events.emit(ConversationEvent(
            EventKind.DELIVERY, conversation_id, conversation.customer_id, message_id,
            {"status": status.value, "error": error or "", "provider_id": provider_id or ""},
        ))
        return True

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _event(current: Conversation, kind: str, text: str, now: datetime, meta: dict[str, str]) -> Message:
        return Message(id=MessageId(ids.message_id()), conversation_id=current.id, direction=Direction.EVENT,
                       channel=None, author="gateway", text=text, created_at=now, kind=kind, meta=meta)


def _agent_step(rules: Rules, current: Conversation) -> Escalation | None:
    """The rule file's step for an agent's Escalate from the current tier, if the path has one."""
    lookup = getattr(rules, "escalation_step", None)
    step = lookup(current.queue, current.tier, "agent") if lookup is not None else None
    if step is None:
        return None
    return Escalation(tier=step.to_tier, queue=step.to_queue, priority=step.priority,
                      sla_policy=step.sla_policy, restart=tuple(step.restart))


def _required(text: str, name: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(f"{name} must be a non-empty string")
    return text
