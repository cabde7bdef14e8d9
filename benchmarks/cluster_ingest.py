"""What a Redis Cluster costs and spreads: the store's ingest on one Redis and on three cluster primaries.

Starts a plain redis-server and a three-primary cluster (loopback, no
persistence, as tests/faults builds it), builds each data client the way the
gateway does (``gateway.redis_clients``), and ingests SMS messages through
``ConversationStore.ingest``: one at a time (the latency a sender waits for
its acknowledgement), then 50 at once (throughput). Then it counts where the
cluster's keys and memory went: each primary should hold about a third.
All nodes share this machine's CPUs, so the cluster's figure is its overhead
(more round trips: a message's keys live in several slots), not the extra
capacity three machines would bring. Run: python -m benchmarks.cluster_ingest
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from benchmarks.replica_ack import concurrent, sequential
from conversations.store import ConversationStore
from gateway.redis_clients import RedisClients, close_data, prepare
from gateway.settings import load_settings
from tests.faults.servers import Cluster, RedisNode


async def measure(store: ConversationStore, count: int, rounds: int, name: str) -> tuple[float, float, float]:
    runs = []
    for round_ in range(rounds):
        await sequential(store, 100, f"warm-{name}-{round_}")
        latencies = sorted(await sequential(store, count, f"seq-{name}-{round_}"))
        rate = await concurrent(store, count, f"par-{name}-{round_}")
        runs.append((statistics.median(latencies) * 1000, latencies[int(len(latencies) * 0.99) - 1] * 1000, rate))
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs))


async def main(count: int, rounds: int) -> None:
    single, queue, cluster = RedisNode().start(), RedisNode().start(), Cluster().start()
    try:
        setups = {
            "one Redis": load_settings(_env_file=None, redis_url=single.url),
            "cluster, 3 primaries": load_settings(_env_file=None, redis_url=cluster.url, redis_cluster=True,
                                                  queue_redis_url=queue.url),
        }
        for name, settings in setups.items():
            client = RedisClients(settings).data()
            await prepare(client)
            try:
                store = ConversationStore(client, group_commit=settings.ingest.group_commit)
                p50, p99, rate = await measure(store, count, rounds, name)
            finally:
                await close_data(client)
            print(f"{name}: one at a time p50={p50:.2f} ms p99={p99:.2f} ms; 50 at once {rate:,.0f} messages/s "
                  f"(median of {rounds} rounds of {count})")
        shares = []
        for node in cluster.nodes:
            info = node.client().info()
            keys = info.get("db0", {}).get("keys", 0)
            shares.append(f"{node.address}: {keys:,} keys, {info['used_memory_dataset'] / 1e6:.1f} MB")
        print("cluster data per primary: " + "; ".join(shares))
    finally:
        cluster.stop()
        queue.stop()
        single.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.rounds))
