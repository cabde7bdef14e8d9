"""The whole backlog: listing 100,000 conversations through the indexes on a real redis-server.

Conversations are written directly in the store's layout (ingest is not what is measured): two
queues, three tiers, four channels; 60% open, 20% pending, 20% resolved; activity spread over 90
days; live ones with a first-response deadline spread over the next week. One quiet conversation,
the oldest of all, sits in support tier 2 with the earliest deadline. Then:

- ``gateway index rebuild``'s path indexes them all (rate, and memory the index takes);
- listings are timed as the admin API runs them (index page + the conversations' hashes): the first
  page of "open in support tier 2, most urgent first", a page 50 pages deep by cursor, the first
  page of everything by activity; each the median of repeated runs;
- transfers through the service (conversation change + index in one transaction) are timed.

    python -m benchmarks.backlog [--conversations 100000] [--page 50]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from conversations import codec
from conversations import keys as core_keys
from conversations.backlog import Filter, Order
from conversations.service import ConversationService
from conversations.store import ConversationStore
from router import LiveRules
from tests.support import RedisServer, write_rules

RULES = """\
queues:
  support: {sla_policy: day}
  service: {sla_policy: day}
sla_policies:
  day: {first_response: 1d, resolution: 3d}
default: {queue: support}
"""
CHANNELS = ("sms", "email", "webchat", "slack")
URGENT_T2 = Filter(queues=frozenset({"support"}), statuses=frozenset({"open"}), tiers=frozenset({2}))


async def create_conversations(redis: Redis, count: int, now: datetime) -> str:
    """Write ``count`` conversations; returns the quiet one's id."""
    rng = random.Random(14)
    now_ms = codec.to_ms(now)
    for base in range(0, count, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for n in range(base, min(base + 1000, count)):
                conversation_id, customer_id = f"cnv_bench{n:07d}", f"cus_bench{n:07d}"
                quiet = n == 0
                status = "open" if quiet else rng.choices(["open", "pending", "resolved"], [6, 2, 2])[0]
                updated = now_ms - (90 * 86_400_000 if quiet else rng.randrange(89 * 86_400_000))
                fields: dict[str, str | int] = {
                    "id": conversation_id, "customer_id": customer_id, "status": status,
                    "queue": "support" if quiet else rng.choice(["support", "service"]),
                    "tier": 2 if quiet else rng.choice([1, 1, 2, 3]), "priority": "normal", "tags": "[]",
                    "created_at": updated, "updated_at": updated, "message_count": 1,
                    "last_inbound_channel": rng.choice(CHANNELS), "sla_policy": "day"}
                if status != "resolved":
                    fields["sla_first_response_due"] = now_ms + (-3_600_000 if quiet else rng.randrange(7 * 86_400_000))
                ck = core_keys.CustomerKeys(customer_id)
                pipe.set(core_keys.conversation_locator(conversation_id), customer_id)
                pipe.hset(ck.conversation(conversation_id), mapping={k: str(v) for k, v in fields.items()})
                pipe.hset(ck.customer, mapping={"id": customer_id, "name": f"Customer {n}", "created_at": updated,
                                                "attributes": "{}"})
                pipe.rpush(ck.conversations, conversation_id)
            await pipe.execute()
    return "cnv_bench0000000"


async def timed(call, runs: int = 21) -> float:
    """Median milliseconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main(args: argparse.Namespace) -> None:
    server = RedisServer()
    redis = Redis.from_url(server.url, decode_responses=True, max_connections=200)
    sync = SyncRedis.from_url(server.url)
    try:
        rules = LiveRules(write_rules(RULES))
        store = ConversationStore(redis)
        service = ConversationService(store, lambda: rules.current)
        quiet = await create_conversations(redis, args.conversations, datetime.now(UTC))
        before = int(sync.info("memory")["used_memory"])
        started = time.monotonic()
        figures = await store.index.rebuild()
        rebuild_s = time.monotonic() - started
        index_bytes = int(sync.info("memory")["used_memory"]) - before
        print(f"backlog: {figures['indexed']:,} conversations indexed in {rebuild_s:.1f}s "
              f"({figures['indexed'] / rebuild_s:,.0f}/s, gateway index rebuild); index memory "
              f"{index_bytes / 2**20:.1f} MiB ({index_bytes / figures['indexed']:.0f} bytes per conversation)")

        async def listing(wanted: Filter, order: Order, cursor=None):
            page = await store.index.page(wanted, order, limit=args.page, cursor=cursor)
            await store.conversations(conversation_id for conversation_id, _ in page.items)
            return page

        first = await listing(URGENT_T2, Order.URGENCY)
        assert first.items[0][0] == quiet, "the quiet conversation must be listed first"
        total = await store.index.count(URGENT_T2, Order.URGENCY)
        cursor = first.next_cursor
        for _ in range(49):
            cursor = (await listing(URGENT_T2, Order.URGENCY, cursor)).next_cursor
        deep = cursor
        print(f"  open in support tier 2, most urgent first ({total:,} of {args.conversations:,}; "
              f"the quiet 90-day-old one first): first page of {args.page} "
              f"{await timed(lambda: listing(URGENT_T2, Order.URGENCY)):.2f} ms, page 51 by cursor "
              f"{await timed(lambda: listing(URGENT_T2, Order.URGENCY, deep)):.2f} ms (median of 21)")
        sync.config_resetstat()
        await timed(lambda: store.index.page(URGENT_T2, Order.URGENCY, limit=args.page, cursor=deep))
        server_us = sync.info("commandstats").get("cmdstat_evalsha", {}).get("usec_per_call", 0.0)
        print(f"  the page script's own time in redis-server (INFO commandstats, page 51): {server_us:.0f} µs")
        buckets = len(await store.index.buckets())
        print(f"  everything, most recent first (merge of {buckets} buckets): first page "
              f"{await timed(lambda: listing(Filter(), Order.ACTIVITY)):.2f} ms; "
              f"index page alone {await timed(lambda: store.index.page(Filter(), Order.ACTIVITY, limit=args.page)):.2f} ms")

        targets = [f"cnv_bench{n:07d}" for n in range(1, 1001)]
        started = time.perf_counter()
        for conversation_id in targets:
            conversation = await store.conversation(conversation_id)
            await service.transfer(conversation_id, "service" if conversation.queue == "support" else "support",
                                   "bench")
        per_transfer = (time.perf_counter() - started) * 1000 / len(targets)
        print(f"  transfer (conversation + index in one transaction): {per_transfer:.2f} ms each over "
              f"{len(targets):,}")
    finally:
        await redis.aclose()
        sync.close()
        server.stop()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=50)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
