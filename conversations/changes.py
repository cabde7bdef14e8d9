"""What each verb writes, decided from the state it read: pure functions, no I/O.

``service.py`` reads the conversation inside ``store.mutate`` and hands it to
one of these; they return the ``Change`` (fields, timeline entries, delivery
states) or raise the domain error that explains why the verb is not allowed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from conversations import codec, ids
from conversations.errors import Conflict, InvalidRequest
from conversations.models import (
    TIERS,
    Attachment,
    Channel,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessageId,
    Priority,
    Status,
)
from conversations.ratings import UNTIL as CSAT_UNTIL
from conversations.rules import EscalationStep, RoutingDecision, Rules
from conversations.store import Change

LANGUAGE = "language"  # the customer's language the router found (docs/ROUTING.md, Languages)
MANUAL_ROUTING = "routing_manual"  # set by an agent's transfer: routing no longer overrides it
# Set by the SLA sweeper when a timer decides an escalation; ``escalate(once=...)`` consumes it,
# so a crash between the two finishes the escalation once on the timer's re-fire.
PENDING_ESCALATION = "escalation_pending"


@dataclass(frozen=True, slots=True)
class Escalation:
    """Where an escalation takes a conversation; the workers' escalation path computes it."""

    tier: int
    queue: str | None = None
    priority: Priority | None = None
    sla_policy: str | None = None  # switch the conversation's SLA policy
    restart: tuple[str, ...] = ()  # SLA clocks that start over (written as sla_<clock>_restarted_at)


def event_message(current: Conversation, kind: str, text: str, now: datetime, meta: dict[str, str]) -> Message:
    """A timeline entry saying what happened (shown to agents, never to the customer)."""
    return Message(id=MessageId(ids.message_id()), conversation_id=current.id, direction=Direction.EVENT,
                   channel=None, author="gateway", text=text, created_at=now, kind=kind, meta=meta)


def required_text(text: str, name: str = "text") -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(f"{name} must be a non-empty string")
    return text


def routed(current: Conversation, decision: RoutingDecision, now: datetime, *, force: bool) -> Change:
    tags = tuple(dict.fromkeys((*current.tags, *decision.tags)))
    text = f"Routed to {decision.queue} tier {decision.tier}, {decision.priority.value} priority"
    text += f" by rule {decision.rule!r}" if decision.rule else ""
    fields: dict[str, str | int] = {
        "queue": decision.queue, "tier": decision.tier, "priority": decision.priority.value,
        "tags": json.dumps(tags), "sla_policy": decision.sla_policy or "",
        "rule": decision.rule or "", "routed_at": codec.to_ms(now), "updated_at": codec.to_ms(now),
    }
    if decision.language:
        # Kept for what is said later (the survey); a reroute that cannot tell keeps the known one.
        fields[LANGUAGE] = decision.language
    return Change(
        fields=fields,
        messages=[event_message(current, "routed", text, now, {"rule": decision.rule or ""})],
        delete_fields=[MANUAL_ROUTING] if force else [],
    )


def reply_target(current: Conversation, channel: Channel | None, linked: str | None = None) -> tuple[Channel, str]:
    """The channel a reply goes out on (default: the customer's last one) and the identity key it goes to.

    The address the customer used in this conversation on that channel wins; else ``linked``, the
    customer's own identity on it (linked by an agent or a merge, never written from here), so an
    agent can follow up on any channel the customer has.
    """
    target = channel or current.last_inbound_channel
    if target is None:
        raise InvalidRequest("the conversation has no customer channel to reply on")
    address = current.extra.get(f"address:{target.value}") or linked
    if not address:
        raise InvalidRequest(f"the customer has no {target.value} address; pick another channel or link one "
                             f"(POST /api/customers/{current.customer_id}/identities)")
    return target, address


def replied(current: Conversation, message_id: MessageId, text: str, author: str, now: datetime, *,
            channel: Channel | None, automatic: bool, meta: dict[str, str], refused: str | None = None,
            attachments: tuple[Attachment, ...] = (), linked: str | None = None) -> Change:
    """An outbound message on ``channel`` (default: the customer's last one), delivery queued.

    ``refused``: why it must not be sent (the address opted out); it is stored failed with that
    reason, so the agent sees it at once and no job hands it to the provider.
    """
    target, address = reply_target(current, channel, linked)
    status = DeliveryStatus.FAILED if refused else DeliveryStatus.QUEUED
    message = Message(
        id=message_id, conversation_id=current.id, direction=Direction.OUTBOUND, channel=target,
        author=author, text=text, created_at=now, delivery=status, delivery_error=refused, attachments=attachments,
        meta={**meta, "to": address, **({"automatic": "1"} if automatic else {})},
    )
    fields: dict[str, str | int] = {"updated_at": codec.to_ms(now)}
    if not automatic:
        # An agent answered: the conversation now waits on the customer.
        fields["status"] = Status.PENDING.value
        fields["last_agent_reply_at"] = codec.to_ms(now)
        # A proactive message (conversations/proactive.py) is us writing first, not an answer.
        if current.first_response_at is None and meta.get("proactive") != "1":
            fields["first_response_at"] = codec.to_ms(now)
    return Change(fields=fields, messages=[message], delivery={message_id: codec.delivery_state(status, refused)})


def transferred(current: Conversation, queue: str, author: str, reason: str | None, sla_policy: str | None,
                now: datetime) -> Change:
    if current.queue == queue:
        raise Conflict(f"the conversation is already in the {queue} queue")
    text = f"{author} transferred the conversation from {current.queue or 'no queue'} to {queue}"
    text += f": {reason}" if reason else ""
    return Change(
        fields={"queue": queue, "tier": 1, "rule": f"transfer by {author}", MANUAL_ROUTING: "1",
                "sla_policy": sla_policy or "", "updated_at": codec.to_ms(now)},
        messages=[event_message(current, "transferred", text, now,
                                {"from": current.queue, "to": queue, "by": author, "reason": reason or ""})],
    )


def escalated(current: Conversation, goal: Escalation, author: str, reason: str | None, now: datetime, *,
              queue_policy: str | None, once: str | None) -> Change:
    """Move to ``goal``; ``queue_policy`` is the target queue's default SLA policy, used when the queue changes.

    With ``once``, nothing happens unless the conversation's pending escalation is that key.
    """
    if once is not None and current.extra.get(PENDING_ESCALATION) != once:
        return Change()
    queue = goal.queue or current.queue
    if goal.tier not in TIERS:
        raise Conflict(f"tier {current.tier} is the last tier; the conversation cannot escalate further")
    if goal.tier <= current.tier and queue == current.queue:
        raise Conflict(f"the conversation is already at tier {current.tier}")
    fields: dict[str, str | int] = {"tier": goal.tier, "queue": queue, "updated_at": codec.to_ms(now)}
    if goal.priority and goal.priority.rank > current.priority.rank:
        fields["priority"] = goal.priority.value
    policy = goal.sla_policy or (queue_policy if queue != current.queue else None)
    if policy:
        fields["sla_policy"] = policy
    for clock in goal.restart:
        fields[f"sla_{clock}_restarted_at"] = codec.to_ms(now)
    text = f"{author} escalated to {queue} tier {goal.tier}" + (f": {reason}" if reason else "")
    return Change(fields=fields, delete_fields=[PENDING_ESCALATION] if once is not None else [],
                  messages=[event_message(current, "escalated", text, now, {
                      "from_tier": str(current.tier), "to_tier": str(goal.tier), "from_queue": current.queue,
                      "to_queue": queue, "by": author, "reason": reason or ""})])


def escalation_goal(step: EscalationStep) -> Escalation:
    """Where a step of the rule file's escalation path takes a conversation: the one conversion.

    Every escalation (an agent's from Slack or the admin API, the SLA timers') goes
    through here, so each carries the step's queue, priority, SLA policy and restarts.
    """
    return Escalation(tier=step.to_tier, queue=step.to_queue, priority=step.priority,
                      sla_policy=step.sla_policy, restart=tuple(step.restart))


def agent_step(rules: Rules, current: Conversation) -> Escalation | None:
    """The rule file's step for an agent's Escalate from the current tier, if the path has one."""
    step = rules.escalation_step(current.queue, current.tier, "agent") if current.queue else None
    return escalation_goal(step) if step is not None else None


def assigned(current: Conversation, agent: str | None, author: str, now: datetime) -> Change:
    if current.assignee == agent:
        return Change()
    text = f"{author} assigned the conversation to {agent}" if agent else f"{author} unassigned the conversation"
    change = Change(fields={"updated_at": codec.to_ms(now)},
                    messages=[event_message(current, "assigned", text, now, {"agent": agent or "", "by": author})])
    if agent:
        change.fields["assignee"] = agent
    else:
        change.delete_fields.append("assignee")
    return change


def resolved(current: Conversation, author: str, now: datetime) -> Change:
    if current.status == Status.RESOLVED:
        raise Conflict("the conversation is already resolved")
    return Change(fields={"status": Status.RESOLVED.value, "resolved_at": codec.to_ms(now),
                          "updated_at": codec.to_ms(now)},
                  messages=[event_message(current, "resolved", f"{author} resolved the conversation", now,
                                          {"by": author})])


def reopened(current: Conversation, author: str, now: datetime) -> Change:
    if current.status != Status.RESOLVED:
        raise Conflict(f"the conversation is {current.status.value}, not resolved")
    return Change(fields={"status": Status.OPEN.value, "reopen_count": current.reopen_count + 1,
                          "updated_at": codec.to_ms(now)},
                  # Reopened: a later number is a message again, not an answer to an old survey.
                  delete_fields=["resolved_at", CSAT_UNTIL],
                  messages=[event_message(current, "reopened", f"{author} reopened the conversation", now,
                                          {"by": author})])
