"""Arming SLA timers a batch of conversations at a time (the sweeper's dirty set).

Each conversation ends exactly as ``timers.arm`` would leave it (``timers.arming_of``
decides for both), in a fixed number of round trips per batch instead of about a
dozen per conversation:

1. read the batch: locators, hashes, and the timelines of the live, routed
   conversations only (``conversations.batch.read_many``); a resolved or
   unrouted conversation needs no timeline to know it has no deadline;
2. decide every conversation's change (pure: ``workers/sla.py``);
3. ``ZADD`` every new ``gw:timers`` member in one command, before the hashes
   (as ``arm`` does: a crash leaves members that find another generation);
4. write the changed hashes, each only if it is unchanged since step 1, the
   backlog index following (``conversations.batch.write_many``);
5. ``ZREM`` the replaced generations' members in one command.

A conversation that changed between steps 1 and 4 (an ingest, a reply), or
whose write failed, is armed on its own by ``timers.arm`` (WATCH/MULTI, retried).

The whole timeline is read, not its tail: the resolution clock sums every open
stretch since the conversation started (reopened ones included), and the next
response clock looks back to the last agent reply, so a tail would change
deadlines of long conversations. The read is one pipelined ``XRANGE`` per
conversation, without the delivery states the deadlines do not use.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from conversations import batch
from conversations.backoff import is_outage
from conversations.models import Conversation
from conversations.store import ConversationStore
from router import RuleSet
from workers import keys, timers
from workers.timers import Arming

log = logging.getLogger("gateway.timers")

FALLBACK_CONCURRENCY = 24


@dataclass(slots=True)
class Armed:
    """What a batch did: conversations with new deadlines, ones settled (armed, unchanged or gone), ones that failed."""

    changed: list[Conversation] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)  # unmark these
    failed: list[str] = field(default_factory=list)  # leave these marked: armed again after their lease


async def arm_batch(store: ConversationStore, rules: RuleSet, conversation_ids: list[str]) -> Armed:
    """Arm every conversation of the batch (see the module doc); errors that are outages propagate."""
    result = Armed()

    def needs_timeline(conversation: Conversation) -> bool:
        return conversation.is_live and timers.policy_for(rules, conversation) is not None

    try:
        snapshots = await batch.read_many(store.redis, conversation_ids, needs_timeline)
    except Exception as error:
        if is_outage(error):
            raise
        # One bad conversation (a key of the wrong type) fails its whole group's read: arm them one by one,
        # so it alone stays marked and is logged.
        log.warning("reading a batch of %d conversations failed (%s); arming them one by one",
                    len(conversation_ids), error)
        await _one_by_one(store, rules, conversation_ids, result)
        return result
    plans: list[tuple[batch.Snapshot, Arming]] = []
    for conversation_id in conversation_ids:
        snapshot = snapshots.get(conversation_id)
        if snapshot is None:
            result.settled.append(conversation_id)  # gone: nothing to arm (``arm`` says False)
            continue
        arming = timers.arming_of(rules, snapshot.conversation, snapshot.timeline or [])
        if arming is None:
            result.settled.append(conversation_id)
        else:
            plans.append((snapshot, arming))
    if not plans:
        return result
    members = {member: due for _, arming in plans for member, due in arming.members.items()}
    await batch.zadd_many(store.redis, keys.TIMERS, members)
    outcomes = await batch.write_many(store.redis, store.index, [
        batch.FieldWrite(snapshot, arming.fields, arming.delete_fields) for snapshot, arming in plans])
    replaced: list[str] = []
    again: list[str] = []
    for snapshot, arming in plans:
        conversation = snapshot.conversation
        outcome = outcomes[conversation.id]
        if outcome == batch.WRITTEN:
            result.changed.append(conversation)
            result.settled.append(conversation.id)
            if arming.old_generation > 0:
                replaced += timers.members_of(conversation.id, arming.old_generation)
        elif outcome == batch.GONE:
            result.settled.append(conversation.id)
        else:
            again.append(conversation.id)  # changed since read, or its script failed
    if result.changed:
        await store.confirm_replicated()  # one WAIT for the batch, when replicas must confirm
    if replaced:
        await store.redis.zrem(keys.TIMERS, *replaced)
    await _one_by_one(store, rules, again, result)
    return result


async def _one_by_one(store: ConversationStore, rules: RuleSet, conversation_ids: list[str], result: Armed) -> None:
    gate = asyncio.Semaphore(FALLBACK_CONCURRENCY)

    async def one(conversation_id: str) -> None:
        async with gate:
            try:
                if await timers.arm(store, rules, conversation_id):
                    result.changed.append(await store.conversation(conversation_id))
            except Exception as error:
                if is_outage(error):
                    raise
                log.exception("arming %s failed", conversation_id)
                result.failed.append(conversation_id)
                return
            result.settled.append(conversation_id)

    await asyncio.gather(*(one(c) for c in conversation_ids))
