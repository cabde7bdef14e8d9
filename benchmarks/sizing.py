"""Sizing figures for docs/OPERATIONS.md, on a real redis-server.

1. **Redis memory per conversation**: ``--conversations`` customers each write
   ``--messages`` messages (SMS, through the real ingest and routing with the
   example rules) and get as many agent replies (stored, delivered); the SLA
   timers are armed by the sweeper's real path. ``INFO used_memory`` before and
   after, over the number of conversations (RQ's job keys are removed first:
   they expire by themselves and are not conversation data).
2. **Worker throughput**: ``--replies`` agent replies to web chat customers,
   queued at once (one ``outbound`` job each), delivered by ``--workers``
   real ``gateway worker outbound --no-sweeper`` processes; replies delivered
   per second, including start-up and from the first job taken.
   ``BENCH_WORKER_PROFILE=/tmp/worker.prof`` runs the workers under cProfile.

The web process's ingest rate is ``python -m benchmarks.ingest_webchat``.

    python -m benchmarks.sizing [--conversations 2000] [--messages 4] [--replies 1000] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from rq import Queue
from rq.registry import StartedJobRegistry

from conversations.messages import InboundMessage
from conversations.models import Channel, DeliveryStatus, Identity
from gateway.runtime import build_services
from router import LiveRules
from tests.support import ROOT, RedisServer, settings_for
from workers import defaults
from workers import keys as worker_keys
from workers.sweeper import Sweeper

EXAMPLE_RULES = ROOT / "examples" / "routing.yaml"
TEXTS = ["Hi, I was charged twice for my subscription this month, can you check the invoice?",
         "The app shows an error when I try to log in since the update, it says session expired.",
         "Can I upgrade to the business plan and keep my current billing date?",
         "Thanks, that worked. One more question about the export feature."]
REPLY = "Thanks for writing. I have looked at your account and fixed it; you will see it on your next invoice."


def used_memory(client: SyncRedis) -> int:
    return int(client.info("memory")["used_memory"])


def drop_job_keys(client: SyncRedis) -> None:
    for key in client.scan_iter("rq:*", count=1000):
        client.delete(key)
    client.delete(worker_keys.OUTBOUND_PENDING)


async def memory_per_conversation(server: RedisServer, conversations: int, messages: int) -> None:
    redis = Redis.from_url(server.url, decode_responses=True, max_connections=100)
    sync = SyncRedis.from_url(server.url)
    sync.flushall()
    runtime = build_services(settings_for(EXAMPLE_RULES, redis_url=server.url), redis, sync, LiveRules(EXAMPLE_RULES))
    before = used_memory(sync)
    started = time.monotonic()
    gate = asyncio.Semaphore(50)

    async def customer(n: int) -> None:
        async with gate:
            phone = f"+1555{n:07d}"
            for m in range(messages):
                result = await runtime.service.ingest(InboundMessage(
                    channel=Channel.SMS, identity=Identity(Channel.SMS, phone), provider_id=f"SM{n:08d}{m:04d}",
                    text=TEXTS[m % len(TEXTS)], received_at=datetime.now(UTC)))
                if m == messages - 1:
                    break  # the last one waits for an agent: the conversation is open, its SLA timers armed
                reply = await runtime.service.reply(result.conversation_id, REPLY, author="Grace")
                await runtime.service.record_delivery(result.conversation_id, reply.id, DeliveryStatus.DELIVERED,
                                                      provider_id=f"SMout{n:08d}{m:04d}")

    await asyncio.gather(*(customer(n) for n in range(conversations)))
    elapsed = time.monotonic() - started
    await Sweeper(runtime, batch=2000).arm_marked()
    drop_job_keys(sync)
    grown = used_memory(sync) - before
    timers = await redis.zcard(worker_keys.TIMERS)
    stored = 2 * messages - 1
    print(f"memory: {conversations:,} open conversations, {messages} customer messages + {messages - 1} replies each, "
          f"{timers:,} SLA timers armed")
    print(f"  {grown / conversations:,.0f} bytes per conversation ({grown / (conversations * stored):,.0f} per message "
          f"of ~90 characters); 1 million such conversations ≈ {grown / conversations * 1e6 / 2**30:.1f} GiB")
    print(f"  (ingest + reply + delivery through the service in one process: "
          f"{conversations * messages / elapsed:,.0f} customer messages/s with their replies)")
    await runtime.close()
    await redis.aclose()
    sync.close()


async def worker_throughput(server: RedisServer, replies: int, workers: int) -> None:
    redis = Redis.from_url(server.url, decode_responses=True, max_connections=100)
    sync = SyncRedis.from_url(server.url)
    sync.flushall()
    # The built-in rules: no auto-reply, so each customer gets exactly the one reply measured.
    runtime = build_services(settings_for(EXAMPLE_RULES, redis_url=server.url), redis, sync, LiveRules.default())
    gate = asyncio.Semaphore(50)
    conversation_ids: list[str] = []

    async def one(n: int) -> None:
        async with gate:
            result = await runtime.service.ingest(InboundMessage(
                channel=Channel.WEBCHAT, identity=Identity(Channel.WEBCHAT, f"visitor:bench{n}"),
                provider_id=f"bench{n}:c1", text=TEXTS[n % len(TEXTS)], received_at=datetime.now(UTC)))
            conversation_ids.append(result.conversation_id)

    await asyncio.gather(*(one(n) for n in range(replies)))
    sync.delete("rq:queue:service", "rq:queue:support")  # routing's own jobs are not what is measured
    for conversation_id in conversation_ids:  # every reply enqueues its outbound job
        await runtime.service.reply(conversation_id, REPLY, author="Grace")
    env = {**os.environ, "GATEWAY_REDIS_URL": server.url, "GATEWAY_SECRET_KEY": "bench", "GATEWAY_LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    processes = [subprocess.Popen([sys.executable, *(["-m", "cProfile", "-o", os.environ["BENCH_WORKER_PROFILE"]] if os.environ.get("BENCH_WORKER_PROFILE") else []), "-m", "gateway.cli", "worker", "--no-sweeper", "outbound"], env=env,
                                  cwd=ROOT) for _ in range(workers)]
    queue = Queue(defaults.OUTBOUND, connection=sync)
    try:
        while queue.count >= replies:  # start-up: imports, the rule file, connections
            await asyncio.sleep(0.01)
        taking = time.monotonic()
        while queue.count or StartedJobRegistry(queue=queue).count:  # cheap to poll; deliveries counted after
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - started
        steady = time.monotonic() - taking
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
    delivered = await _delivered(runtime, conversation_ids)
    assert delivered == replies, f"{delivered} of {replies} delivered"
    print(f"workers: {workers} × `gateway worker outbound` delivered {replies:,} web chat replies (one job each) in "
          f"{elapsed:.1f}s including start-up: {replies / elapsed:,.0f} replies/s; from the first job taken "
          f"{steady:.1f}s: {replies / steady:,.0f} replies/s")
    await runtime.close()
    await redis.aclose()
    sync.close()


async def _delivered(runtime, conversation_ids: list[str]) -> int:  # type: ignore[no-untyped-def]
    count = 0
    for conversation_id in conversation_ids:
        messages = await runtime.store.messages(conversation_id)
        count += sum(1 for m in messages if m.delivery in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)
                     and m.author == "Grace")
    return count


async def main(args: argparse.Namespace) -> None:
    server = RedisServer()
    try:
        await memory_per_conversation(server, args.conversations, args.messages)
        for workers in args.workers:
            await worker_throughput(server, args.replies, workers)
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=4)
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    asyncio.run(main(parser.parse_args()))
