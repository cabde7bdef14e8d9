"""The Slack console's jobs as the web side names them.

Dotted paths, which RQ resolves in the worker, so the web process enqueues an
agent's reply without importing ``workers``; the job queue that carries a
conversation's Slack work; and the retry schedule both sides use.
"""

from __future__ import annotations

from conversations.models import SERVICE, SUPPORT

MODULE = "workers.slack"
SYNC = f"{MODULE}.sync"
AGENT_REPLY = f"{MODULE}.agent_reply"  # a thread message for the customer
AGENT_NOTE = f"{MODULE}.agent_note"  # a thread message kept internal
AGENT_EDITED = f"{MODULE}.agent_edited"
AGENT_ACTION = f"{MODULE}.agent_action"

# Non-429 failures (Slack 5xx, network): RQ retries after these many seconds.
RETRY_INTERVALS = (2, 10, 30, 120, 600)


def job_queue(conversation_queue: str | None) -> str:
    """Each team's workers carry their own Slack traffic: the job queue named like the conversation's queue."""
    return conversation_queue if conversation_queue in (SERVICE, SUPPORT) else SERVICE
