"""Firing claimed SLA timers a batch at a time (the sweeper's path).

Each timer ends as ``timers.fire`` would leave it (``timers.decide`` decides for
both), with the reads and writes of the batch in a few pipelined script calls
(``conversations.batch``) instead of about eight round trips per timer:

1. read every conversation of the batch with its timeline;
2. decide each timer: ``old`` and ``already`` are settled at once; a conversation
   with one timer that fires gets its write;
3. write those (fired mark + event entries), each only if its conversation is
   unchanged since step 1; then, per fired timer, publish its entries, emit the
   SLA event and count it, as ``fire`` does after its write.

Everything else goes to ``timers.fire`` one by one, as before: a conversation
changed between steps 1 and 3, a stale timer (it re-arms the conversation), an
escalation (pending or decided now: ``escalation.finish_pending`` follows), a
failed write.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from conversations import batch
from conversations.backoff import is_outage
from workers import timers
from workers.context import Services
from workers.timers import FireOutcome, TimerRef


@dataclass(slots=True)
class Fired:
    """What a batch did: how many fired, members done (remove them), timers left for ``timers.fire``."""

    fired: int = 0
    settled: list[str] = field(default_factory=list)
    rest: list[TimerRef] = field(default_factory=list)


async def fire_batch(services: Services, refs: list[TimerRef], now: datetime, concurrency: int = 24) -> Fired:
    result = Fired()
    rules = services.rules.current
    store = services.store
    by_conversation: OrderedDict[str, list[TimerRef]] = OrderedDict()
    # A re-fired member's score is its lapsed lease, not its deadline: warnings first, as ``fire`` goes.
    for ref in sorted(refs, key=lambda r: (r.kind == "breach", r.member)):
        by_conversation.setdefault(ref.conversation_id, []).append(ref)
    try:
        snapshots = await batch.read_many(store.redis, by_conversation, lambda conversation: True)
    except Exception as error:
        if is_outage(error):
            raise
        result.rest = refs  # one unreadable conversation fails its group's read: each on its own
        return result
    writes: list[batch.FieldWrite] = []
    firing: list[tuple[TimerRef, FireOutcome, batch.Snapshot]] = []
    for conversation_id, mine in by_conversation.items():
        snapshot = snapshots.get(conversation_id)
        if snapshot is None:
            result.settled += [ref.member for ref in mine]  # gone: ``fire`` says so and the member goes
            continue
        decided = [timers.decide(rules, snapshot.conversation, snapshot.timeline or [], ref, now) for ref in mine]
        if any(d.pending or d.result == "stale" for d in decided):
            result.rest += mine
            continue
        # Warning and breach due together: one write holding both (neither decision depends on
        # the other's fired mark or event entry; an escalation would, and went to ``rest``).
        write = batch.FieldWrite(snapshot)
        for ref, outcome in zip(mine, decided, strict=True):
            if outcome.result == "fired" and outcome.change is not None:
                write.fields.update(outcome.change.fields)
                write.messages += outcome.change.messages
                firing.append((ref, outcome, snapshot))
            else:
                result.settled.append(ref.member)  # old or already: nothing to do
        if write.messages:
            writes.append(write)
    outcomes = await batch.write_many(store.redis, store.index, writes)
    written = []
    for ref, outcome, snapshot in firing:
        if outcomes.get(ref.conversation_id) == batch.WRITTEN:
            written.append((ref, outcome, snapshot))
        else:
            result.rest.append(ref)  # changed since read (or its write failed): fire it on its own
    if written:
        await store.confirm_replicated()  # one WAIT for the batch, when replicas must confirm
    gate = asyncio.Semaphore(concurrency)
    by_written: OrderedDict[str, list[tuple[TimerRef, FireOutcome, batch.Snapshot]]] = OrderedDict()
    for item in written:
        by_written.setdefault(item[0].conversation_id, []).append(item)

    async def after(items: list[tuple[TimerRef, FireOutcome, batch.Snapshot]]) -> None:
        async with gate:  # one conversation's in order (its warning's event before its breach's)
            for ref, outcome, snapshot in items:
                if outcome.change is not None:
                    await store.publish(ref.conversation_id, outcome.change.messages)
                await timers.fired(services, ref, snapshot.conversation, outcome, now)

    await asyncio.gather(*(after(items) for items in by_written.values()))
    result.fired = len(written)
    result.settled += [ref.member for ref, _, _ in written]
    return result
