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
from typing import Any

from conversations.errors import Conflict, NotFound
from conversations.models import TIERS, Conversation
from conversations.service import PENDING_ESCALATION, Escalation
from conversations.store import Change

log = logging.getLogger("gateway.escalation")

SLA_AUTHOR = "sla"


def step_for(rules: Any, conversation: Conversation, trigger: str) -> Any:
    lookup = getattr(rules, "escalation_step", None)
    if lookup is None or not conversation.queue:
        return None
    return lookup(conversation.queue, conversation.tier, trigger)


def last_tier(rules: Any, queue: str) -> int:
    config = getattr(rules, "queues", {}).get(queue)
    return getattr(config, "last_tier", TIERS[-1]) if config is not None else TIERS[-1]


def at_last_tier(rules: Any, conversation: Conversation) -> bool:
    return conversation.tier >= last_tier(rules, conversation.queue)


def alert_channel(rules: Any, queue: str) -> str | None:
    lookup = getattr(rules, "alert_channel", None)
    if lookup is not None:
        return lookup(queue)
    config = getattr(rules, "queues", {}).get(queue)
    return getattr(config, "alert_channel", None)


def target_of(step: Any) -> Escalation:
    return Escalation(tier=step.to_tier, queue=step.to_queue, priority=step.priority,
                      sla_policy=step.sla_policy, restart=tuple(step.restart))


async def finish_pending(runtime: Any, conversation: Conversation) -> bool:
    """Carry out the escalation a timer decided, once; True if it happened now."""
    key = conversation.extra.get(PENDING_ESCALATION)
    if not key:
        return False
    trigger, _, _ = key.partition("@")
    step = step_for(runtime.rules.current, conversation, trigger)
    if step is None:
        # The rules changed (or the conversation moved) since the timer fired: nothing to do.
        await _clear(runtime, conversation.id, key)
        return False
    reason = f"SLA {trigger.replace('_', ' ').replace('.', ' ')}"
    try:
        after = await runtime.service.escalate(conversation.id, SLA_AUTHOR, reason, target=target_of(step), once=key)
    except Conflict as error:
        log.info("escalation of %s on %s not possible: %s", conversation.id, trigger, error)
        await _clear(runtime, conversation.id, key)
        return False
    except NotFound:
        return False
    return after.tier != conversation.tier or after.queue != conversation.queue


async def _clear(runtime: Any, conversation_id: str, key: str) -> None:
    def apply(current: Conversation) -> Change:
        if current.extra.get(PENDING_ESCALATION) != key:
            return Change()
        return Change(delete_fields=[PENDING_ESCALATION])

    await runtime.store.mutate(conversation_id, apply)
