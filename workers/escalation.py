"""The rule file's escalation path, as the SLA timers run it.

A timer that fires on a trigger the path watches (``first_response.breach``,
``resolution.warning``, ...) leaves a pending escalation on the conversation
in the same write as its fired mark; ``finish_pending`` then escalates with
``once=<that key>``, which takes effect only while the key is still pending
and clears it in the same write. A crash in between is finished by the
timer's next firing, and a second firing finds nothing pending: one
escalation per trigger, whatever crashed.

At the last tier there is no step: a breach alerts instead (see
``timers.fire``). An agent's explicit Escalate takes the path's ``agent``
step (``ConversationService.escalate``).
"""

from __future__ import annotations

import logging

from conversations.changes import PENDING_ESCALATION, escalation_goal
from conversations.errors import Conflict, NotFound
from conversations.models import TIERS, Conversation
from conversations.store import Change, ConversationStore
from router import EscalationStep, RuleSet
from workers.context import Services

log = logging.getLogger("gateway.escalation")

SLA_AUTHOR = "sla"


def step_for(rules: RuleSet, conversation: Conversation, trigger: str) -> EscalationStep | None:
    if not conversation.queue:
        return None
    return rules.escalation_step(conversation.queue, conversation.tier, trigger)


def last_tier(rules: RuleSet, queue: str) -> int:
    config = rules.queues.get(queue)
    return config.last_tier if config is not None else TIERS[-1]


def at_last_tier(rules: RuleSet, conversation: Conversation) -> bool:
    return conversation.tier >= last_tier(rules, conversation.queue)


def alert_channel(rules: RuleSet, queue: str) -> str | None:
    return rules.alert_channel(queue)


async def finish_pending(services: Services, conversation: Conversation) -> bool:
    """Carry out the escalation a timer decided, once; True if it happened now."""
    key = conversation.extra.get(PENDING_ESCALATION)
    if not key:
        return False
    trigger, _, _ = key.partition("@")
    step = step_for(services.rules.current, conversation, trigger)
    if step is None:
        # The rules changed (or the conversation moved) since the timer fired: nothing to do.
        await _clear(services.store, conversation.id, key)
        return False
    reason = f"SLA {trigger.replace('_', ' ').replace('.', ' ')}"
    try:
        after = await services.service.escalate(conversation.id, SLA_AUTHOR, reason, target=escalation_goal(step),
                                                once=key)
    except Conflict as error:
        log.info("escalation of %s on %s not possible: %s", conversation.id, trigger, error)
        await _clear(services.store, conversation.id, key)
        return False
    except NotFound:
        return False
    return after.tier != conversation.tier or after.queue != conversation.queue


async def _clear(store: ConversationStore, conversation_id: str, key: str) -> None:
    def apply(current: Conversation) -> Change:
        if current.extra.get(PENDING_ESCALATION) != key:
            return Change()
        return Change(delete_fields=[PENDING_ESCALATION])

    await store.mutate(conversation_id, apply)
