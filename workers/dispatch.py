"""Turn domain events into jobs: the one place that decides which job runs when.

Each listener below subscribes to the service's events; adding a job means
adding its listener to ``listeners``.
"""

from __future__ import annotations

from rq import Retry

from channels.slack import jobs as slack_jobs
from conversations.events import ConversationEvent, EventKind, Listener
from workers import defaults, outbound
from workers.queues import JobQueues


def outbound_listener(jobs: JobQueues) -> Listener:
    async def on_event(event: ConversationEvent) -> None:
        if event.kind == EventKind.REPLIED and event.message_id:
            await jobs.enqueue(
                defaults.OUTBOUND, outbound.deliver, event.conversation_id, event.message_id,
                job_id=f"deliver-{event.message_id}",
                retry=Retry(max=len(defaults.OUTBOUND_RETRY_INTERVALS), interval=defaults.OUTBOUND_RETRY_INTERVALS),
            )

    return on_event


def listeners(jobs: JobQueues) -> list[Listener]:
    return [outbound_listener(jobs), slack_jobs.listener(jobs)]
