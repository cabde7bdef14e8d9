"""The service verbs: ingest, route, reply, note, transfer, escalate, assign, resolve, reopen.

Each verb is one atomic change of one conversation (``store.mutate``) whose
decision is a pure function of the state it read (``changes.py``), followed
by a domain event. The consent verbs (``keyword``, ``refusal``) are in
``consent_verbs.py``, the customer verbs (``link_identity``, ``update_customer``,
merges) in ``customer_verbs.py``; ``ConversationService`` has them all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from conversations import changes, codec, csat, ids, ratings
from conversations.changes import (  # re-exported: the verbs' vocabulary
    MANUAL_ROUTING,
    PENDING_ESCALATION,
    Escalation,
)
from conversations.clock import utcnow
from conversations.consent import ConsentStore
from conversations.consent_verbs import ConsentVerbs
from conversations.customer_verbs import CustomerVerbs
from conversations.errors import Conflict, InvalidRequest
from conversations.events import ConversationEvent, EventBus, EventKind
from conversations.logcontext import about
from conversations.messages import InboundMessage
from conversations.models import (
    Attachment,
    Channel,
    Conversation,
    ConversationId,
    DeliveryStatus,
    Direction,
    Identity,
    Message,
    MessageId,
)
from conversations.rules import RoutingDecision, Rules
from conversations.store import Change, ConversationStore, ExtraWrites, IngestResult

__all__ = ["MANUAL_ROUTING", "PENDING_ESCALATION", "ConversationService", "Escalation", "Rules"]

log = logging.getLogger("gateway.conversations")


class ConversationService(ConsentVerbs, CustomerVerbs):
    def __init__(
        self,
        store: ConversationStore,
        rules: Callable[[], Rules],
        events: EventBus | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.consent = ConsentStore(store.redis)
        self.rules = rules
        self.events = events or EventBus()
        self.clock = clock

    # -- customer messages -------------------------------------------------------

    async def ingest(self, message: InboundMessage, *, also: ExtraWrites | None = None) -> IngestResult:
        """Store a customer message once, link proven identities, route a new or reopened conversation.

        ``also``: the channel's own writes about the stored message, sent in its round trip (idempotent).
        """
        result = await self.store.ingest(message, now=self.clock(), also=also)
        with about(conversation_id=result.conversation_id, message_id=result.message_id,
                   customer_id=result.customer_id):
            if result.duplicate and result.queue:
                log.info("%s message already stored; not stored again", message.channel.value)
                return result
            # A duplicate of an unrouted conversation is a sender's retry of a first try that died
            # after storing (Redis went away): finish what that try did not, then acknowledge.
            log.info("%s message %s (%s)", message.channel.value,
                     "stored again, finishing its routing" if result.duplicate else "stored", result.outcome)
            return await self._after_ingest(message, result)

    async def _after_ingest(self, message: InboundMessage, result: IngestResult) -> IngestResult:
        rated = result.rated  # decided by the script; a merge below may move the conversation, not undo that
        merged = False
        for identity in message.linked:
            if identity != message.identity:
                merged = await self._link_if_new(result.customer_id, identity) or merged
        if merged:
            result = await self._surviving(result)
        await self.events.emit(
            ConversationEvent(
                EventKind.INGESTED, result.conversation_id, result.customer_id, result.message_id,
                {"outcome": result.outcome, "channel": message.channel.value},
            )
        )
        if rated:
            # A survey answer: the conversation stays resolved, nothing is routed or auto-answered.
            rating = ratings.parse_rating(message.text)
            assert rating is not None  # the script rates only what parse_rating read as a rating
            await self.events.emit(ConversationEvent(
                EventKind.CSAT_RATED, result.conversation_id, result.customer_id, result.message_id,
                {"rating": str(rating.value), "comment": rating.comment, "channel": message.channel.value}))
            return result
        if result.outcome == "reopened":
            await self.events.emit(ConversationEvent(EventKind.REOPENED, result.conversation_id, result.customer_id))
        if result.started or not result.queue:
            decision = await self.route(result.conversation_id, message)
            if decision and decision.auto_reply and result.started and not message.automatic:
                await self.reply(result.conversation_id, decision.auto_reply, author="auto-reply", automatic=True)
        return result

    # -- routing ---------------------------------------------------------------------

    async def route(
        self, conversation_id: str, message: InboundMessage | None = None, *, force: bool = False,
        author: str | None = None,
    ) -> RoutingDecision | None:
        """Ask the rules where the conversation goes; an agent's transfer wins unless forced.

        ``author``: the agent who asked for it (a reroute), recorded in the event; None for the gateway's own.
        """
        conversation = await self.store.conversation(conversation_id)
        customer = await self.store.current_customer(conversation.customer_id)
        if conversation.extra.get(MANUAL_ROUTING) and not force:
            return None
        now = self.clock()
        rules = self.rules()
        decision = rules.decide(conversation, message, customer, now)
        await self.store.mutate(conversation_id, lambda current: changes.routed(current, decision, now, force=force))
        await self.events.emit(
            ConversationEvent(
                EventKind.ROUTED, conversation_id, conversation.customer_id,
                detail={"queue": decision.queue, "tier": str(decision.tier), "rule": decision.rule or "",
                        "previous_queue": conversation.queue, "previous_tier": str(conversation.tier),
                        **({"by": author} if author else {})},
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
        attachments: tuple[Attachment, ...] = (),
    ) -> Message:
        """Store an outbound message (delivery queued) on the customer's last channel, or ``channel``.

        ``attachments`` are files already in the attachment store; with them the text may be empty.
        """
        if not attachments or text:
            text = changes.required_text(text)
        now = self.clock()
        message_id = MessageId(ids.message_id())

        async def apply(current: Conversation) -> Change:
            # The one rule for every outbound message, an agent's or an automatic one: nothing
            # goes to an address that opted out. The outbound job checks again before sending.
            linked = await self._linked_address(current, channel)
            _, address = changes.reply_target(current, channel, linked)
            refused = await self.refusal(Identity.parse(address))
            return changes.replied(current, message_id, text, author, now, channel=channel, automatic=automatic,
                                   meta=meta or {}, refused=refused, attachments=attachments, linked=linked)

        before, change = await self.store.mutate(conversation_id, apply)
        reply = change.messages[0]
        assert reply.channel is not None  # changes.replied always names the channel it replies on
        await self.events.emit(
            ConversationEvent(EventKind.REPLIED, conversation_id, before.customer_id, message_id,
                              {"channel": reply.channel.value, "automatic": "1" if automatic else "", "by": author})
        )
        return reply

    async def _linked_address(self, current: Conversation, channel: Channel | None) -> str | None:
        """The customer's identity on ``channel`` when this conversation has no address there, else None.

        An address linked to the customer that they never wrote from in this conversation: the inbox
        offers every channel the customer has, and a reply picked for one must reach it. With several
        on one channel, the first by its key (the same every time).
        """
        if channel is None or current.extra.get(f"address:{channel.value}"):
            return None
        customer = await self.store.current_customer(current.customer_id)
        keys = sorted(identity.key for identity in customer.identities if identity.channel == channel)
        return keys[0] if keys else None

    async def note(self, conversation_id: str, text: str, author: str, *,
                   meta: dict[str, str] | None = None) -> Message:
        """An internal note: stored, shown to agents, never sent to the customer.

        ``meta``: where it was written (a Slack thread), so that place does not show it twice.
        """
        text = changes.required_text(text)
        now = self.clock()
        note = Message(id=MessageId(ids.message_id()), conversation_id=ConversationId(conversation_id),
                       direction=Direction.NOTE, channel=None, author=author, text=text, created_at=now,
                       meta=meta or {})
        before, _ = await self.store.mutate(
            conversation_id, lambda current: Change(fields={"updated_at": codec.to_ms(now)}, messages=[note])
        )
        await self.events.emit(ConversationEvent(EventKind.NOTED, conversation_id, before.customer_id, note.id,
                                                 {"by": author}))
        return note

    async def transfer(self, conversation_id: str, queue: str, author: str, reason: str | None = None) -> Conversation:
        """Move to another queue (tier 1), keeping the whole history; routing stops overriding it."""
        rules = self.rules()
        if queue not in rules.queues:
            raise InvalidRequest(f"unknown queue {queue!r}; known: {', '.join(sorted(rules.queues))}")
        policy = rules.sla_policy_for(queue, None)
        now = self.clock()
        before, _ = await self.store.mutate(conversation_id, lambda current: changes.transferred(
            current, queue, author, reason, policy.name if policy else None, now))
        await self.events.emit(ConversationEvent(
            EventKind.TRANSFERRED, conversation_id, before.customer_id,
            detail={"from": before.queue, "to": queue, "from_tier": str(before.tier), "by": author,
                    "reason": reason or ""},
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
            goal = target or changes.agent_step(rules, current) or Escalation(tier=current.tier + 1)
            policy = rules.sla_policy_for(goal.queue, None) if goal.queue else None
            queue_policy = policy.name if policy else None
            return changes.escalated(current, goal, author, reason, now, queue_policy=queue_policy, once=once)

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
        before, change = await self.store.mutate(conversation_id,
                                                  lambda current: changes.assigned(current, agent, author, now))
        if change:
            await self.events.emit(ConversationEvent(EventKind.ASSIGNED, conversation_id, before.customer_id,
                                                     detail={"agent": agent or "", "by": author}))
        return await self.store.conversation(conversation_id)

    async def resolve(self, conversation_id: str, author: str) -> Conversation:
        """Resolve; ask the queue's satisfaction survey in the same atomic change (``csat.py``)."""
        now = self.clock()
        rules = self.rules()
        conversation = await self.store.conversation(conversation_id)
        customer = await self.store.current_customer(conversation.customer_id)
        question_id = MessageId(ids.message_id())

        async def apply(current: Conversation) -> Change:
            change = changes.resolved(current, author, now)
            survey = rules.csat_for(current.queue, current.sla_policy) if current.queue else None
            if csat.skip_reason(current, survey, customer_opted_out=csat.opted_out(customer.attributes)) is not None:
                return change
            assert survey is not None and current.last_inbound_channel is not None  # skip_reason checked both
            channel, address = changes.reply_target(current, None)
            if await self.refusal(Identity.parse(address)) is not None:
                return change  # an opted-out number gets no survey, not even a refused one
            # Their stated language now, else the one the router found in their messages.
            language = rules.language_of(customer.attributes, None) or current.extra.get(changes.LANGUAGE)
            question = csat.asked(current, survey, channel=channel, now=now, message_id=question_id,
                                  language=language)
            change.fields.update(question.fields)
            change.messages.extend(question.messages)
            change.delivery.update(question.delivery)
            return change

        before, change = await self.store.mutate(conversation_id, apply)
        await self.events.emit(ConversationEvent(EventKind.RESOLVED, conversation_id, before.customer_id,
                                                 detail={"by": author}))
        if question_id in change.delivery:
            channel = changes.reply_target(before, None)[0].value
            await self.events.emit(ConversationEvent(EventKind.REPLIED, conversation_id, before.customer_id,
                                                     question_id, {"channel": channel, "automatic": "1"}))
            await self.events.emit(ConversationEvent(EventKind.CSAT_SENT, conversation_id, before.customer_id,
                                                     question_id, {"channel": channel}))
        return await self.store.conversation(conversation_id)

    async def reopen(self, conversation_id: str, author: str) -> Conversation:
        """Reopen a resolved conversation, if it is still the customer's latest one."""
        now = self.clock()
        conversation = await self.store.conversation(conversation_id)
        customer_conversations = await self.store.customer_conversation_ids(conversation.customer_id)
        if customer_conversations and customer_conversations[-1] != conversation_id:
            raise Conflict("a newer conversation of this customer exists; continue there")

        before, _ = await self.store.mutate(conversation_id, lambda current: changes.reopened(current, author, now))
        await self.events.emit(ConversationEvent(EventKind.REOPENED, conversation_id, before.customer_id,
                                                 detail={"by": author}))
        return await self.store.conversation(conversation_id)

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
