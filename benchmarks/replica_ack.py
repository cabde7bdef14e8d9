"""What GATEWAY_REDIS_MIN_REPLICAS_ACK=1 costs per inbound message: the store's ingest with and without WAIT.

Starts a real primary and one replica (loopback, AOF everysec) and ingests
SMS messages through ``ConversationStore.ingest`` (the ingest script, then the
locator/index pipeline, plus ``WAIT 1`` when replicas must confirm), first
one at a time (the latency a sender waits for its acknowledgement), then
with 50 at once (throughput). Run: python -m benchmarks.replica_ack
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime

from redis.asyncio import Redis

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from conversations.store import ConversationStore, ReplicaAck
from tests.faults.servers import RedisNode, aof_args
from tests.support import wait_until_sync


def message(n: int, run: str) -> InboundMessage:
    phone = f"+1415555{n % 500:04d}"
    return InboundMessage(channel=Channel.SMS, identity=Identity(Channel.SMS, phone), provider_id=f"SM{run}{n}",
                          text=f"message {n} about my order", received_at=datetime.now(UTC))


async def sequential(store: ConversationStore, count: int, run: str) -> list[float]:
    latencies = []
    for n in range(count):
        started = time.perf_counter()
        await store.ingest(message(n, run))
        latencies.append(time.perf_counter() - started)
    return latencies


async def concurrent(store: ConversationStore, count: int, run: str, width: int = 50) -> float:
    gate = asyncio.Semaphore(width)

    async def one(n: int) -> None:
        async with gate:
            await store.ingest(message(n, run))

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return count / (time.perf_counter() - started)


async def main(count: int, rounds: int) -> None:
    primary = RedisNode(aof_args("everysec")).start()
    replica = RedisNode([*aof_args("everysec"), "--replicaof", "127.0.0.1", str(primary.port)]).start()
    wait_until_sync(lambda: replica.client().info("replication").get("master_link_status") == "up", timeout=15,
                    what="the replica to sync")
    redis = Redis.from_url(primary.url, decode_responses=True)
    try:
        results: dict[int, list[tuple[float, float, float]]] = {0: [], 1: []}
        for round_ in range(rounds):  # interleaved, so a noisy machine hits both alike
            for replicas in (0, 1):
                store = ConversationStore(redis, replica_ack=ReplicaAck(replicas, 1000))
                await sequential(store, 100, f"warm{replicas}-{round_}")
                latencies = sorted(await sequential(store, count, f"seq{replicas}-{round_}"))
                rate = await concurrent(store, count, f"par{replicas}-{round_}")
                p50, p99 = statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.99) - 1] * 1000
                results[replicas].append((p50, p99, rate))
        for replicas, runs in results.items():
            p50 = statistics.median(r[0] for r in runs)
            p99 = statistics.median(r[1] for r in runs)
            rate = statistics.median(r[2] for r in runs)
            print(f"MIN_REPLICAS_ACK={replicas}: one at a time p50={p50:.3f} ms p99={p99:.3f} ms; "
                  f"50 at once {rate:,.0f} messages/s  (median of {rounds} rounds of {count})")
        cost = statistics.median(r[0] for r in results[1]) - statistics.median(r[0] for r in results[0])
        raw = {}
        for replicas in (0, 1):  # the round trip alone: one write, with and without WAIT behind it
            times = []
            for n in range(count):
                started = time.perf_counter()
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.set(f"bench:wait:{n}", n)
                    if replicas:
                        pipe.execute_command("WAIT", 1, 1000)
                    await pipe.execute()
                times.append(time.perf_counter() - started)
            raw[replicas] = statistics.median(times) * 1000
        print(f"one write: {raw[0]:.3f} ms; one write + WAIT 1: {raw[1]:.3f} ms (p50)")
        waits = primary.client().info("commandstats").get("cmdstat_wait", {}).get("calls", 0)
        print(f"WAIT costs {cost:.3f} ms per message (p50, one at a time); the primary ran WAIT {waits} times")
    finally:
        await redis.aclose()
        replica.stop()
        primary.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.rounds))
