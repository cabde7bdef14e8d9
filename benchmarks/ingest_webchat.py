"""Web chat messages per second over WebSockets: the bare aiohttp echo, then the gateway, same client.

50 visitors connect, say hello, then each sends its messages one at a time and
waits for the ack (on the gateway an ack means the message is stored in
Redis). The bare server answers hello and acks and stores nothing.

    python -m benchmarks.ingest_webchat [--visitors 50] [--messages 100] [--web-processes 1] [--levers]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from benchmarks import harness
from benchmarks.harness import Result


async def visitor(session: aiohttp.ClientSession, url: str, name: str, messages: int,
                  latencies: list[float]) -> None:
    async with session.ws_connect(url) as ws:
        await ws.send_json({"type": "hello", "name": name})
        while (await ws.receive_json())["type"] != "welcome":
            pass
        for n in range(messages):
            started = time.perf_counter()
            await ws.send_json({"type": "message", "client_id": f"m{n}", "text": f"message {n} about my invoice"})
            while True:
                frame = await ws.receive_json()
                if frame["type"] == "ack":
                    break
                if frame["type"] == "error":
                    raise RuntimeError(f"web chat error: {frame}")
            latencies.append(time.perf_counter() - started)


async def load(ports: list[int], visitors: int, messages: int, prefix: str) -> tuple[float, list[float]]:
    """Visitors spread round robin over ``ports`` (one per web process)."""
    latencies: list[float] = []
    urls = [f"http://127.0.0.1:{port}/webchat/ws" for port in ports]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(visitor(session, urls[v % len(urls)], f"{prefix}{v}", messages, latencies)
                               for v in range(visitors)))
        return time.perf_counter() - started, latencies


async def run(visitors: int = 50, messages: int = 100, web_processes: int = 1,
              compare_loop: bool = False, levers: bool = False) -> Result:
    result = Result("ingest_webchat", goal=">= 25% of bare")
    total = visitors * messages
    print(f"ingest_webchat: {visitors} visitors x {messages} messages, each waiting for its ack", flush=True)
    with harness.bare("webchat") as port:
        await load([port], visitors, min(messages, 10), "warm")
        elapsed, latencies = await load([port], visitors, messages, "v")
    bare_rate = total / elapsed
    result.add("bare aiohttp WebSocket (acks, stores nothing)",
               f"{bare_rate:,.0f} msg/s, {harness.latency_text(latencies)}")
    with harness.redis_server() as server, harness.gateways(server.url, 1) as ports:
        await load(ports, visitors, min(messages, 10), "warm")
        elapsed, latencies = await load(ports, visitors, messages, "v")
    rate = total / elapsed
    result.add("gateway, 1 web process (ack after Redis stored it)",
               f"{rate:,.0f} msg/s, {harness.latency_text(latencies)}")
    result.ratio = rate / bare_rate
    if compare_loop:
        with harness.redis_server() as server, harness.gateways(server.url, 1, GATEWAY_EVENT_LOOP="asyncio") as ports:
            await load(ports, visitors, min(messages, 10), "warm")
            elapsed, latencies = await load(ports, visitors, messages, "v")
        result.add("gateway, 1 web process, standard asyncio loop (lever: uvloop off)",
                   f"{total / elapsed:,.0f} msg/s, {harness.latency_text(latencies)}")
        result.data["gateway_asyncio"] = total / elapsed
    if levers:
        for label, env in harness.INGEST_LEVERS:
            with harness.redis_server() as server, harness.gateways(server.url, 1, **env) as ports:
                await load(ports, visitors, min(messages, 10), "warm")
                elapsed, latencies = await load(ports, visitors, messages, "v")
            result.add(f"gateway, 1 web process, {label}", f"{total / elapsed:,.0f} msg/s, "
                       f"{harness.latency_text(latencies)} ({total / elapsed / bare_rate:.0%} of bare)")
            result.data[label] = total / elapsed
    if web_processes > 1:
        with harness.redis_server() as server, harness.gateways(server.url, web_processes) as ports:
            await load(ports, visitors, min(messages, 10), "warm")
            elapsed, latencies = await load(ports, visitors, messages, "v")
        result.add(f"gateway, {web_processes} web processes", f"{total / elapsed:,.0f} msg/s, "
                   f"{harness.latency_text(latencies)} ({total / elapsed / bare_rate:.0%} of one bare process)")
        result.data["gateway_multi"] = total / elapsed
    result.met = result.ratio >= 0.25
    result.data.update({"bare": bare_rate, "gateway": rate})
    result.show()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--web-processes", type=int, default=1, help="also measure this many web processes")
    parser.add_argument("--compare-loop", action="store_true", help="also measure the standard asyncio loop")
    parser.add_argument("--levers", action="store_true", help="also measure with the ingest levers switched off")
    args = parser.parse_args()
    asyncio.run(run(args.visitors, args.messages, args.web_processes, args.compare_loop, args.levers))


if __name__ == "__main__":
    main()
