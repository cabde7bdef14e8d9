"""RQ jobs of the Slack console, and the event listener that enqueues them.

Jobs are module-level, take ids and strings, and are safe to run twice. They
run on the conversation's job queue (``service`` / ``support``), so each
team's workers carry their own Slack traffic. The web side enqueues the agent
jobs by their dotted names (``channels.slack.jobnames``) and never imports
this module.
"""

from __future__ import annotations

from datetime import timedelta

from redis.asyncio import Redis

from channels.slack import actions, console, jobnames
from channels.slack.keys import QUEUED_TTL, conversation_key, dirty_key, queued_key
from conversations.clock import utcnow
from conversations.events import ConversationEvent, EventKind, Listener
from workers import context
from workers.context import Services
from workers.queues import JobQueues

QUEUE_HINTS = {EventKind.ROUTED: "queue", EventKind.TRANSFERRED: "to", EventKind.ESCALATED: "to_queue"}


# -- jobs ----------------------------------------------------------------------------------


def sync(conversation_id: str) -> str:
    """Bring the conversation's Slack thread up to date (see ``console.sync_conversation``)."""

    async def body(services: Services) -> str:
        async def reschedule(conv: str, delay: float) -> None:
            conversation = await services.store.conversation(conv)
            at = utcnow() + timedelta(seconds=delay) if delay > 0 else None
            await services.jobs.enqueue(jobnames.job_queue(conversation.queue), sync, conv, at=at,
                                        retry_intervals=jobnames.RETRY_INTERVALS)

        return await console.sync_conversation(services, conversation_id, reschedule)

    return context.run(body, conversation_id=conversation_id)


def agent_reply(conversation_id: str, channel: str, thread_ts: str, ts: str, user: str, text: str,
                files: str = "") -> str:
    return context.run(lambda services: actions.agent_reply(services, conversation_id, channel, thread_ts, ts,
                                                            user, text, files), conversation_id=conversation_id)


def agent_note(conversation_id: str, channel: str, thread_ts: str, ts: str, user: str, text: str) -> str:
    return context.run(lambda services: actions.agent_note(services, conversation_id, channel, thread_ts, ts,
                                                           user, text))


def agent_edited(conversation_id: str, channel: str, thread_ts: str, ts: str, kind: str) -> str:
    return context.run(lambda services: actions.agent_edited(services, conversation_id, channel, thread_ts, ts,
                                                             kind), conversation_id=conversation_id)


def agent_action(conversation_id: str, action: str, user: str, argument: str, reply_channel: str, once: str) -> str:
    return context.run(lambda services: actions.agent_action(services, conversation_id, action, user, argument,
                                                             reply_channel, once), conversation_id=conversation_id)


# -- enqueueing ------------------------------------------------------------------------------


async def request_sync(jobs: JobQueues, redis: Redis, conversation_id: str, queue_hint: str | None = None) -> bool:
    """Mark the conversation dirty and enqueue a sync job unless one is already waiting.

    The markers live on the data Redis, where the console reads them; only the job goes to RQ's.
    """
    key = conversation_key(conversation_id)
    if queue_hint:
        await redis.hset(key, "job_queue", queue_hint)
    await redis.set(dirty_key(conversation_id), "1")
    if not await redis.set(queued_key(conversation_id), "1", nx=True, ex=QUEUED_TTL):
        return False  # the waiting job will see the dirty flag
    name = await redis.hget(key, "job_queue")
    job_queue = jobnames.job_queue(name.decode() if isinstance(name, bytes) else name)
    await jobs.enqueue(job_queue, sync, conversation_id, retry_intervals=jobnames.RETRY_INTERVALS)
    return True


def listener(jobs: JobQueues, redis: Redis, slack_configured: bool) -> Listener:
    """Every change of a conversation may change its thread: ask for a sync."""

    async def on_event(event: ConversationEvent) -> None:
        if not event.conversation_id or not slack_configured:
            return
        hint = QUEUE_HINTS.get(event.kind)
        await request_sync(jobs, redis, event.conversation_id, event.detail.get(hint) if hint else None)

    return on_event
