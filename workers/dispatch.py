"""Turn domain events into jobs: the one place that decides which job runs when.

Each listener below subscribes to the service's events; adding a job means
adding its listener to ``listeners``.
"""

from __future__ import annotations

from redis.asyncio import Redis

from conversations.events import ConversationEvent, EventKind, Listener
from workers import defaults, escalation, metrics, outbound, slack, timers
from workers.queues import JobQueues

# Events after which a conversation's SLA deadlines may have moved.
ARMING_EVENTS = frozenset({
    EventKind.ROUTED, EventKind.INGESTED, EventKind.REPLIED, EventKind.RESOLVED, EventKind.REOPENED,
    EventKind.TRANSFERRED, EventKind.ESCALATED,
})


def outbound_listener(jobs: JobQueues, redis: Redis) -> Listener:
    async def on_event(event: ConversationEvent) -> None:
        if event.kind == EventKind.REPLIED and event.message_id:
            # Pending first: if the process dies before the enqueue, the sweeper still finds it.
            # On the data Redis (where the sweeper looks), not RQ's: they differ beside a Redis Cluster.
            await outbound.mark_pending(redis, event.conversation_id)
            await jobs.enqueue(
                defaults.OUTBOUND, outbound.deliver, event.conversation_id, event.message_id,
                job_id=f"deliver-{event.message_id}", retry_intervals=defaults.OUTBOUND_RETRY_INTERVALS,
            )

    return on_event


def sla_listener(jobs: JobQueues, redis: Redis, *, ingest_marked: bool = False) -> Listener:
    """``ingest_marked``: the store sends the dirty mark with every stored message (no mark for INGESTED)."""
    skipped = {EventKind.INGESTED} if ingest_marked else set()

    async def on_event(event: ConversationEvent) -> None:
        if event.kind in ARMING_EVENTS and event.kind not in skipped:
            await timers.mark_dirty(redis, event.conversation_id)  # on the ingest path: no thread hop
        if event.kind == EventKind.ESCALATED:
            trigger = "sla" if event.detail.get("by") == escalation.SLA_AUTHOR else "agent"
            await metrics.count_escalation(redis, trigger)

    return on_event


def listeners(jobs: JobQueues, redis: Redis, *, slack_configured: bool, ingest_marked: bool = False) -> list[Listener]:
    return [outbound_listener(jobs, redis), sla_listener(jobs, redis, ingest_marked=ingest_marked),
            slack.listener(jobs, redis, slack_configured)]
