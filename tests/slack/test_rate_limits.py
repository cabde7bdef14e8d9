"""Slack answering 429 to half the calls: every customer message still reaches its thread, in order, once."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from tests.support import wait_until

CONVERSATIONS = 20
MESSAGES_EACH = 10
MARKER = re.compile(r"\bc(\d\d)m(\d\d)\b")


def customer_message(i: int, j: int) -> InboundMessage:
    # Even customers write about an error (support), odd ones about an invoice (service).
    topic = "an error in the app" if i % 2 == 0 else "my invoice"
    return InboundMessage(channel=Channel.WEBCHAT, identity=Identity(Channel.WEBCHAT, f"visitor:load{i:02d}"),
                          provider_id=f"load-{i:02d}-{j:02d}", text=f"c{i:02d}m{j:02d} about {topic}",
                          received_at=datetime.now(UTC), name=f"Customer {i:02d}")


def threads_by_conversation(fake) -> dict[str, list[str]]:
    """For each parent (keyed by the conversation id it names): its thread replies, in post order."""
    out: dict[str, list[str]] = {}
    parents = [m for m in fake.messages if not m.thread_ts]
    for parent in parents:
        conversation = re.search(r"Conversation `(cnv_\w+)`", str(parent.blocks)).group(1)
        assert conversation not in out, f"two parents for {conversation}"
        out[conversation] = [m.text for m in fake.messages if m.thread_ts == parent.ts and m.channel == parent.channel]
    return out


async def test_200_messages_across_20_conversations_all_reach_slack_in_order_once_with_429s(any_slack_gateway):
    gw = any_slack_gateway
    gw.fake.rate_limit(0.5, retry_after=0)
    service = gw.runtime.service
    started = time.monotonic()
    conversation_of: dict[int, str] = {}
    for j in range(MESSAGES_EACH):
        for i in range(CONVERSATIONS):
            result = await service.ingest(customer_message(i, j))
            conversation_of[i] = result.conversation_id
        if j % 3 == 2:
            await gw.drain()  # jobs run between bursts, as workers would

    async def all_shown() -> bool:
        await gw.drain()
        shown = sum(len(MARKER.findall("\n".join(t))) for t in threads_by_conversation(gw.fake).values())
        return shown >= CONVERSATIONS * MESSAGES_EACH

    await wait_until(all_shown, timeout=60, what="every customer message in Slack")
    elapsed = time.monotonic() - started

    threads = threads_by_conversation(gw.fake)
    assert sorted(threads) == sorted(conversation_of.values())
    for i, conversation_id in conversation_of.items():
        seen = [(int(a), int(b)) for a, b in MARKER.findall("\n".join(threads[conversation_id]))]
        assert seen == [(i, j) for j in range(MESSAGES_EACH)], f"thread of customer {i}: {seen}"
    posts = len(gw.fake.ok_calls("chat.postMessage"))
    limited = len(gw.fake.limited_calls())
    assert limited > 50  # the fake really did refuse about half the calls
    assert posts < CONVERSATIONS * MESSAGES_EACH  # bursts were coalesced
    print(f"\n429 test: {CONVERSATIONS * MESSAGES_EACH} messages, {posts} successful chat.postMessage "
          f"({CONVERSATIONS} parents), {len(gw.fake.ok_calls('chat.update'))} chat.update, "
          f"{limited} answered 429, {elapsed:.2f}s")


async def test_retry_after_is_respected_by_a_scheduled_retry(slack_gateway):
    gw = slack_gateway
    gw.fake.rate_limit(1.0, retry_after=1)
    result = await gw.runtime.service.ingest(customer_message(0, 0))
    await gw.drain()
    refused_at = time.monotonic()
    assert gw.fake.limited_calls() and not gw.fake.ok_calls("chat.postMessage")
    gw.fake.rate_limit(0.0)

    async def posted() -> bool:
        await gw.drain()
        return bool(threads_by_conversation(gw.fake).get(result.conversation_id))

    await wait_until(posted, timeout=10, what="the retry after Retry-After")
    assert time.monotonic() - refused_at >= 0.9  # not before Slack said
    assert "c00m00" in "\n".join(threads_by_conversation(gw.fake)[result.conversation_id])
