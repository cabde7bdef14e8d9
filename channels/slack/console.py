"""Keeping a conversation's Slack thread in step with its timeline.

One pass (``ThreadSync.run``) posts or updates the parent, moves the thread
when the conversation moved to another channel (transfer, escalation), and
posts every timeline entry the thread does not show yet, in order. A
per-conversation cursor counts the entries shown; it advances only after a
post succeeded, so a 429 or a crash never skips or repeats an entry (a crash
between Slack's answer and the cursor write is the one window where a post can
repeat). Consecutive entries share a post (coalescing), which keeps a burst of
customer messages far below Slack's one-message-per-second-per-channel limit.

``sync_conversation`` runs passes under a per-conversation lock while the
conversation is "dirty"; see its docstring for why no change is ever missed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from channels.slack import blocks, keys
from channels.slack.api import RateLimited, SlackApi, SlackError, configured, make_client
from channels.slack.deps import ConsoleDeps
from channels.slack.state import SlackState, ThreadState
from conversations.clock import now_ms
from conversations.locks import RedisLock
from conversations.models import Conversation, Customer, Message

log = logging.getLogger("gateway.slack")

MAX_ITEMS_PER_POST = 10
MAX_CHARS_PER_POST = 3500  # well under Slack's 4,000-character advice for one message's text
HISTORY_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Post:
    """One thread reply: shows the timeline up to ``end`` (exclusive) and settles ``notices``."""

    end: int
    text: str  # "" = nothing to show (the agent typed these entries here): just advance
    notices: tuple[str, ...] = ()
    blocks: tuple[dict[str, Any], ...] = ()  # a message with more behind it: its line, signature and "Show full email"


def plan_posts(messages: Sequence[Message], start: int, *, thread: tuple[str, str], shown: set[str],
               max_items: int = MAX_ITEMS_PER_POST, max_chars: int = MAX_CHARS_PER_POST,
               link: Callable[[str], str] | None = None) -> list[Post]:
    """The posts that show ``messages[start:]``, consecutive entries coalesced; pure.

    A customer message with more behind it (quoted history, a signature, a cut
    text) gets a post of its own, with blocks: its button must sit under it.
    """
    posts: list[Post] = []
    lines: list[str] = []
    notices: list[str] = []
    items = 0
    for index in range(start, len(messages)):
        message = messages[index]
        entry: list[str] = []
        line = blocks.message_line(message, thread=thread, link=link)
        if line:
            entry.append(line)
        notice = blocks.delivery_notice(message)
        entry_notices = []
        if notice and notice[0] not in shown:
            entry.append(notice[1])
            entry_notices.append(notice[0])
        text = "\n".join(entry)
        if line and blocks.has_more(message):
            if lines or notices:
                posts.append(Post(index, "\n".join(lines), tuple(notices)))
            posts.append(Post(index + 1, text[:max_chars], tuple(entry_notices),
                              tuple(blocks.message_blocks(text, message))))
            lines, notices, items = [], [], 0
            continue
        size = sum(len(x) + 1 for x in lines)
        if lines and (items >= max_items or size + len(text) > max_chars):
            posts.append(Post(index, "\n".join(lines), tuple(notices)))
            lines, notices, items = [], [], 0
        if text:
            lines.append(text[:max_chars])
            items += 1
        notices.extend(entry_notices)
    if start < len(messages) and (not posts or posts[-1].end < len(messages)):
        posts.append(Post(len(messages), "\n".join(lines), tuple(notices)))
    return posts


def plan_notices(messages: Sequence[Message], cursor: int, shown: set[str]) -> Post | None:
    """Delivery results that arrived after their message was shown: one post for all of them."""
    lines, markers = [], []
    for message in messages[:cursor]:
        notice = blocks.delivery_notice(message)
        if notice and notice[0] not in shown:
            markers.append(notice[0])
            lines.append(notice[1])
    return Post(cursor, "\n".join(lines), tuple(markers)) if lines else None


def blocks_hash(payload: list[blocks.Block]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


class ThreadSync:
    """One pass over one conversation. Raises ``RateLimited`` / ``SlackError`` to the caller."""

    def __init__(self, deps: ConsoleDeps, api: SlackApi, conversation_id: str) -> None:
        self.deps = deps
        self.api = api
        self.conversation_id = conversation_id
        self.state = SlackState(deps.redis)

    def target_for(self, conversation: Conversation) -> str | None:
        if not conversation.routed:
            return None
        return self.deps.rules.current.slack_channel(conversation.queue, conversation.tier)

    async def run(self) -> str:
        store = self.deps.store
        conversation = await store.conversation(self.conversation_id)
        target = self.target_for(conversation)
        if not target:
            return "no Slack channel for this queue"  # interim rules, or a queue without a channel
        customer = await store.current_customer(conversation.customer_id)
        earlier = [c for c in await store.conversations(await store.customer_conversation_ids(customer.id))
                   if c.id != conversation.id]
        earlier.sort(key=lambda c: c.created_at, reverse=True)
        parent = blocks.to_slack_blocks(conversation, customer, history=earlier[:HISTORY_SHOWN + 1])
        text = blocks.parent_text(conversation, customer)
        digest = blocks_hash(parent)

        thread = await self.state.thread(self.conversation_id)
        await self.mark_moved(thread, conversation, customer, earlier)
        if not thread.ts or thread.target != target:
            moving_from = f"{thread.channel} {thread.ts}" if thread.ts else ""
            posted = await self.api.post(target, text, blocks=parent)
            await self.state.new_thread(self.conversation_id, target=target, channel=posted.channel, ts=posted.ts,
                                        parent_hash=digest, moving_from=moving_from)
            thread = await self.state.thread(self.conversation_id)
            await self.mark_moved(thread, conversation, customer, earlier)
        elif thread.parent_hash != digest:
            await self.api.update(thread.channel, thread.ts, text, parent)
            await self.state.save(self.conversation_id, parent_hash=digest)

        messages = await store.messages(self.conversation_id)
        shown = await self.state.notices(self.conversation_id)
        posted_count = 0
        cursor = thread.cursor
        files = self.deps.attachments
        link = (lambda attachment_id: files.posted_url(attachment_id, now_ms() // 1000)) if files else None
        for post in plan_posts(messages, cursor, thread=(thread.channel, thread.ts), shown=shown, link=link):
            if post.text:
                await self.api.post(thread.channel, post.text, thread_ts=thread.ts,
                                    blocks=list(post.blocks) if post.blocks else None)
                posted_count += 1
            await self.state.advance(self.conversation_id, post.end, post.notices)
            shown.update(post.notices)
            cursor = post.end
        late = plan_notices(messages, cursor, shown)
        if late is not None:
            await self.api.post(thread.channel, late.text, thread_ts=thread.ts)
            await self.state.advance(self.conversation_id, cursor, late.notices)
            posted_count += 1
        return f"synced: {posted_count} posts"

    async def mark_moved(self, thread: ThreadState, conversation: Conversation, customer: Customer,
                         earlier: list[Conversation]) -> None:
        """Point the thread the conversation left at its new one: banner on the parent, a reply in it."""
        if not thread.moving_from:
            return
        old_channel, _, old_ts = thread.moving_from.partition(" ")
        link = await self.api.permalink(thread.channel, thread.ts)
        moved = blocks.to_slack_blocks(conversation, customer, history=earlier[:HISTORY_SHOWN + 1],
                                       moved_to=(thread.target, link))
        await self.api.update(old_channel, old_ts, f"Moved to {thread.target}", moved)
        await self.api.post(old_channel, blocks.moved_line(thread.target, link), thread_ts=old_ts)
        await self.state.save(self.conversation_id, moving_from="")


Reschedule = Callable[[str, float], Awaitable[None]]


async def sync_conversation(deps: ConsoleDeps, conversation_id: str, reschedule: Reschedule) -> str:
    """Bring the conversation's thread up to date; safe to run any number of times, concurrently.

    Whoever holds the lock runs passes while the "dirty" flag is set. Every
    change sets the flag before enqueueing a job, and the holder looks at the
    flag again after releasing the lock, so a change that arrives while a
    pass runs is shown either by that holder or by the job it enqueued.
    """
    if not configured(deps.slack):
        return "Slack is not configured"
    redis = deps.redis
    await redis.delete(keys.queued_key(conversation_id))
    await redis.set(keys.dirty_key(conversation_id), "1")  # a job that runs always looks
    paused_ms = await redis.pttl(keys.pause_key(conversation_id))
    if paused_ms > 0:
        # Slack asked us to wait: a change that arrives meanwhile waits too, instead of spending
        # another 429. The job scheduled for the end of the pause shows it.
        await reschedule(conversation_id, paused_ms / 1000)
        return f"paused by Slack for {paused_ms} ms"
    api = SlackApi(make_client(deps.slack), redis)
    outcome = "nothing to do"
    while True:
        lock = RedisLock(redis, keys.lock_key(conversation_id), keys.LOCK_SECONDS)
        if not await lock.acquire():
            return "another job is syncing this conversation"
        try:
            while await redis.getdel(keys.dirty_key(conversation_id)):
                try:
                    outcome = await ThreadSync(deps, api, conversation_id).run()
                except RateLimited as limited:
                    await redis.set(keys.dirty_key(conversation_id), "1")
                    if limited.retry_after > 0:
                        await redis.set(keys.pause_key(conversation_id), "1",
                                        px=max(1, int(limited.retry_after * 1000)))
                    await reschedule(conversation_id, limited.retry_after)
                    return f"rate limited on {limited.method}; again in {limited.retry_after:g}s"
                except SlackError as error:
                    if not error.permanent:
                        await redis.set(keys.dirty_key(conversation_id), "1")
                        raise  # RQ retries the job with backoff
                    log.error("Slack refused the thread of %s: %s", conversation_id, error)
                    await SlackState(redis).save(conversation_id, error=str(error))
                    return f"failed: {error}"
        finally:
            if not await lock.release():
                log.warning("the Slack lock of %s expired during a pass", conversation_id)
        if not await redis.exists(keys.dirty_key(conversation_id)):
            return outcome
