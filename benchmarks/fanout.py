"""Agent replies reaching 1,000 open web chat sockets: reply p99, bare push ceiling vs the gateway.

1,000 visitors connect and each opens a conversation (hello, one message). Then
replies are posted at a steady rate, one per visitor, and each is timed from
the request to the frame arriving on that visitor's socket.

- baseline: a bare aiohttp server holding the same sockets pushes the frame on ``POST /push/{visitor}``.
- gateway: ``POST /api/conversations/{id}/messages`` (an agent reply) → stored → ``outbound`` job in
  a ``gateway worker outbound`` process (the Procfile's) → published → the web process's hub → the socket.

    python -m benchmarks.fanout [--sockets 1000] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp

from benchmarks import harness
from benchmarks.harness import Result

GOAL_P99 = 0.100


class Visitor:
    def __init__(self, name: str) -> None:
        self.name = name
        self.ws: Any = None
        self.conversation_id = ""
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.reader: asyncio.Task[None] | None = None

    async def connect(self, session: aiohttp.ClientSession, url: str, open_conversation: bool) -> None:
        self.ws = await session.ws_connect(url, heartbeat=None)
        await self.ws.send_json({"type": "hello", "name": self.name})
        while (await self.ws.receive_json())["type"] != "welcome":
            pass
        if open_conversation:
            await self.ws.send_json({"type": "message", "client_id": "c1", "text": "hello, a question"})
            while True:
                frame = await self.ws.receive_json()
                if frame["type"] == "ack":
                    self.conversation_id = frame["conversation_id"]
                    break
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for frame in self.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            data = frame.json()
            text = (data.get("message") or {}).get("text", "")
            future = self.waiting.pop(text, None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    def expect(self, text: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[text] = future
        return future

    async def close(self) -> None:
        await self.ws.close()
        if self.reader:
            await self.reader


async def connect_all(session: aiohttp.ClientSession, url: str, count: int, open_conversation: bool) -> list[Visitor]:
    visitors = [Visitor(f"v{n}") for n in range(count)]
    for start in range(0, count, 20):  # 20 handshakes at a time
        await asyncio.gather(*(v.connect(session, url, open_conversation) for v in visitors[start:start + 20]))
    return visitors


async def replies(session: aiohttp.ClientSession, visitors: list[Visitor], rate: float, post_url: Any,
                  headers: dict[str, str], timeout: float) -> tuple[list[float], int]:
    async def one(n: int) -> None:
        visitor = visitors[n]
        text = f"reply {n} from the agent"
        arrived = visitor.expect(text)
        started = time.perf_counter()
        async with session.post(post_url(visitor), json={"text": text, "author": "agent"},
                                headers=headers) as response:
            if response.status != 201:
                raise RuntimeError(f"reply refused: {response.status} {await response.text()}")
        try:
            latencies.append(await asyncio.wait_for(arrived, timeout) - started)
        except asyncio.TimeoutError:
            lost.append(n)

    latencies: list[float] = []
    lost: list[int] = []
    await harness.open_loop(rate, len(visitors), one)
    return latencies, len(lost)


async def run(sockets: int = 1000, rate: float = 50.0) -> Result:
    result = Result("fanout", goal=f"reply p99 < {GOAL_P99 * 1000:.0f} ms with {sockets:,} sockets open")
    print(f"fanout: {sockets} sockets, one reply each at {rate:g}/s", flush=True)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        with harness.bare("fanout") as port:
            visitors = await connect_all(session, f"http://127.0.0.1:{port}/webchat/ws", sockets, False)
            base, _ = await replies(session, visitors, rate, lambda v: f"http://127.0.0.1:{port}/push/{v.name}",
                                    {}, 10)
            await asyncio.gather(*(v.close() for v in visitors))
        result.add("bare aiohttp push to the socket", harness.latency_text(base))
        with harness.redis_server() as server, harness.gateway(server.url) as port:
            worker = harness.Process(["gateway.cli", "worker", "outbound"],
                                     harness.gateway_env(server.url, harness.free_port()))
            try:
                harness.wait_for_workers(server.url, 1)
                visitors = await connect_all(session, f"http://127.0.0.1:{port}/webchat/ws", sockets, True)
                headers = {"Authorization": f"Bearer {harness.ADMIN_TOKEN}"}
                gateway, lost = await replies(
                    session, visitors, rate,
                    lambda v: f"http://127.0.0.1:{port}/api/conversations/{v.conversation_id}/messages",
                    headers, 30)
                await asyncio.gather(*(v.close() for v in visitors))
            finally:
                worker.stop()
        result.add("gateway: API reply → outbound worker → socket",
                   harness.latency_text(gateway) + (f", {lost} not arrived in 30 s" if lost else ""))
    p99 = harness.percentile(gateway, 0.99)
    result.ratio = harness.percentile(base, 0.99) / p99
    result.notes.append("ratio = bare p99 / gateway p99")
    result.met = p99 < GOAL_P99 and not lost
    result.data = {"p99": p99, "bare_p99": harness.percentile(base, 0.99), "lost": lost}
    result.show()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="replies per second")
    args = parser.parse_args()
    asyncio.run(run(args.sockets, args.rate))


if __name__ == "__main__":
    main()
