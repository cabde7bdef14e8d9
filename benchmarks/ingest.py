"""Web chat messages ingested per second, end to end, against a real redis-server.

Starts a real redis-server and ``gateway serve`` (one web process) on free
ports; visitors in this process connect over WebSockets, each sends messages
and waits for every ack (an ack means the message is stored in Redis).
Prints throughput and ack latency. Run: python -m benchmarks.ingest
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import os
import subprocess
import sys
import urllib.request

import aiohttp
from redis import Redis as SyncRedis

from tests.support import RedisServer, free_port, wait_until_sync


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


async def visitor(session: aiohttp.ClientSession, url: str, messages: int, latencies: list[float]) -> None:
    async with session.ws_connect(url) as ws:
        await ws.send_json({"type": "hello"})
        while (await ws.receive_json())["type"] != "welcome":
            pass
        for n in range(messages):
            started = time.perf_counter()
            await ws.send_json({"type": "message", "client_id": f"m{n}", "text": f"message {n} about my invoice"})
            while (await ws.receive_json())["type"] != "ack":
                pass
            latencies.append(time.perf_counter() - started)


async def main(visitors: int, messages: int) -> None:
    server = RedisServer()
    port = free_port()
    env = {**os.environ, "GATEWAY_REDIS_URL": server.url, "GATEWAY_PORT": str(port), "GATEWAY_SECRET_KEY": "bench",
           "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_WEBCHAT__FRAMES_PER_SECOND": "10000",
           "GATEWAY_WEBCHAT__FRAME_BURST": "10000"}
    web_process = subprocess.Popen([sys.executable, "-c", "from gateway.cli import main; main()", "serve"], env=env)
    wait_until_sync(lambda: answers(f"http://127.0.0.1:{port}/readyz"), timeout=30, what="gateway serve")
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/webchat/ws"
            started = time.perf_counter()
            await asyncio.gather(*(visitor(session, url, messages, latencies) for _ in range(visitors)))
            elapsed = time.perf_counter() - started
        total = visitors * messages
        stored = sum(1 for _ in SyncRedis.from_url(server.url).scan_iter("gw:{c:*}:msgs:*", count=1000))
        latencies.sort()
        print(f"visitors={visitors} messages={total} conversations={stored} elapsed={elapsed:.2f}s")
        print(f"ingested {total / elapsed:,.0f} web chat messages/s (each acked after Redis stored it)")
        print(f"ack latency p50={statistics.median(latencies) * 1000:.2f}ms "
              f"p99={latencies[int(len(latencies) * 0.99) - 1] * 1000:.2f}ms max={latencies[-1] * 1000:.2f}ms")
    finally:
        web_process.terminate()
        web_process.wait(timeout=10)
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.visitors, args.messages))
