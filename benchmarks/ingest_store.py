"""The store's ingest path alone: ``ConversationStore.ingest`` at 32 concurrent callers on a real redis-server.

No HTTP, no routing, no event listeners: what the ingest levers (docs/PERFORMANCE.md)
change, measured without what they do not. Each configuration runs on a fresh
Redis in the same run; 10 messages per customer, every customer known after its
first message (as in ``ingest_sms``).

    python -m benchmarks.ingest_store [--messages 3000] [--concurrency 32]

Runs against an older checkout too (``PYTHONPATH=<checkout> python <this file>``):
a store without the levers' options is measured as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from benchmarks import harness
from benchmarks.harness import Result
from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from conversations.store import ConversationStore

try:
    from conversations.identity_cache import IdentityCache
except ImportError:  # an older checkout: no levers to switch
    IdentityCache = None  # type: ignore[assignment,misc]

CONFIGURATIONS: list[tuple[str, dict[str, Any]]] = [
    ("each message its own two pipelines (no identity cache, no group commit)",
     {"group_commit": False, "identity_cache_entries": 0}),
    ("+ identity cache", {"group_commit": False}),
    ("+ group commit (the default)", {}),
]


def messages(total: int, seed: str) -> list[InboundMessage]:
    customers = max(1, total // 10)
    return [InboundMessage(Channel.SMS, Identity(Channel.SMS, f"+1{seed}{n % customers:07d}"), f"SM{seed}{n:08d}",
                           f"message {n // customers} about my order", datetime.now(UTC)) for n in range(total)]


def make_store(redis: Redis, options: dict[str, Any]) -> ConversationStore:
    if IdentityCache is None:
        return ConversationStore(redis)
    entries = options.get("identity_cache_entries", 100_000)
    return ConversationStore(redis, group_commit=options.get("group_commit", True),
                             identity_cache=IdentityCache(entries))


async def measure(options: dict[str, Any], total: int, concurrency: int) -> tuple[float, list[float]]:
    with harness.redis_server() as server:
        redis = Redis.from_url(server.url, decode_responses=True, max_connections=concurrency * 2)
        store = make_store(redis, options)
        try:
            warm = messages(min(total, 200), "301")
            await harness.closed_loop(concurrency, len(warm), lambda n: store.ingest(warm[n]))
            batch = messages(total, "212")
            return await harness.closed_loop(concurrency, total, lambda n: _ingest(store, batch[n]))
        finally:
            await redis.aclose()


async def _ingest(store: ConversationStore, message: InboundMessage) -> None:
    await store.ingest(message)


async def run(total: int = 3000, concurrency: int = 32) -> Result:
    result = Result("ingest_store", goal="figure only")
    print(f"ingest_store: {total} messages through ConversationStore.ingest, {concurrency} concurrent", flush=True)
    for label, options in CONFIGURATIONS if IdentityCache is not None else [("this checkout's store", {})]:
        elapsed, latencies = await measure(options, total, concurrency)
        result.add(label, f"{total / elapsed:,.0f} msg/s, {harness.latency_text(latencies)}")
        result.data[label] = total / elapsed
    result.show()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(run(args.messages, args.concurrency))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
