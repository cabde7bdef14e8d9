"""RQ jobs of the Slack console, and the event listener that enqueues them.

Jobs are module-level, take ids and strings, and are safe to run twice. They
run on the conversation's job queue (``service`` / ``support``), so each
team's workers carry their own Slack traffic.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from rq import Retry

from channels.slack import actions, console, state
from channels.slack.api import configured
from conversations.events import ConversationEvent, EventKind, Listener
from workers import context, defaults
from workers.queues import JobQueues

# Non-429 failures (Slack 5xx, network): RQ retries after these many seconds.
RETRY = [2, 10, 30, 120, 600]
QUEUE_HINTS = {EventKind.ROUTED: "queue", EventKind.TRANSFERRED: "to", EventKind.ESCALATED: "to_queue"}


def job_queue(name: str | None) -> str:
    return name if name in (defaults.SERVICE, defaults.SUPPORT) else defaults.SERVICE


def retry() -> Retry:
    return Retry(max=len(RETRY), interval=RETRY)


# -- jobs ----------------------------------------------------------------------------------


def sync(conversation_id: str) -> str:
    """Bring the conversation's Slack thread up to date (see ``console.sync_conversation``)."""

    async def body(runtime) -> str:
        async def reschedule(conv: str, delay: float) -> None:
            conversation = await runtime.store.conversation(conv)
            at = datetime.now(UTC) + timedelta(seconds=delay) if delay > 0 else None
            await runtime.jobs.enqueue(job_queue(conversation.queue), sync, conv, at=at, retry=retry())

        return await console.sync_conversation(runtime, conversation_id, reschedule)

    return context.run(body)


def agent_reply(conversation_id: str, channel: str, thread_ts: str, ts: str, user: str, text: str) -> str:
    return context.run(lambda rt: actions.agent_reply(rt, conversation_id, channel, thread_ts, ts, user, text))


def agent_edited(conversation_id: str, channel: str, thread_ts: str, ts: str, kind: str) -> str:
    return context.run(lambda rt: actions.agent_edited(rt, conversation_id, channel, thread_ts, ts, kind))


def agent_action(conversation_id: str, action: str, user: str, argument: str, reply_channel: str, once: str) -> str:
    return context.run(lambda rt: actions.agent_action(rt, conversation_id, action, user, argument,
                                                       reply_channel, once))


# -- enqueueing ------------------------------------------------------------------------------


def request_sync(jobs: JobQueues, conversation_id: str, queue_hint: str | None = None) -> bool:
    """Mark the conversation dirty and enqueue a sync job unless one is already waiting."""
    redis = jobs.connection
    key = state.conversation_key(conversation_id)
    if queue_hint:
        redis.hset(key, "job_queue", queue_hint)
    redis.set(state.dirty_key(conversation_id), "1")
    if not redis.set(state.queued_key(conversation_id), "1", nx=True, ex=state.QUEUED_TTL):
        return False  # the waiting job will see the dirty flag
    jobs.enqueue_now(_job_queue_of(jobs, conversation_id), sync, conversation_id, retry=retry())
    return True


def _job_queue_of(jobs: JobQueues, conversation_id: str) -> str:
    name = jobs.connection.hget(state.conversation_key(conversation_id), "job_queue")
    return job_queue(name.decode() if isinstance(name, bytes) else name)


async def conversation_job_queue(runtime, conversation_id: str) -> str:
    conversation = await runtime.store.conversation(conversation_id)
    return job_queue(conversation.queue)


def listener(jobs: JobQueues) -> Listener:
    """Every change of a conversation may change its thread: ask for a sync."""

    async def on_event(event: ConversationEvent) -> None:
        if not event.conversation_id or not configured(context.settings().slack):
            return
        hint = QUEUE_HINTS.get(event.kind)
        await asyncio.to_thread(request_sync, jobs, event.conversation_id,
                                event.detail.get(hint) if hint else None)

    return on_event
