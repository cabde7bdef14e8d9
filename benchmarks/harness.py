"""What every benchmark shares: servers on 127.0.0.1, a closed-loop load client, percentiles, results.

A benchmark measures its baseline (a bare server that answers and stores
nothing) and the gateway back to back in the same run, with the same client,
and reports both and their ratio: the machine is shared, so absolute figures
move from run to run while the ratios move much less. Every loop is bounded
(a number of requests, or a deadline) and stops by itself.
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from redis import Redis
from rq import Worker

from tests.support import ROOT, RedisServer, free_port, wait_until_sync

TWILIO_TOKEN = "bench-twilio-token"
TWILIO_ACCOUNT = "AC" + "b" * 32
OUR_NUMBER = "+15005550006"
PUBLIC_URL = "https://gateway.bench.example"
ADMIN_TOKEN = "bench-admin-token"
SLACK_SIGNING = "bench-slack-signing-secret"
EMAIL_DOMAIN = "help.bench.example"


@dataclass
class Result:
    """One benchmark's figures: ``rows`` (label, value) for the table, the main ratio, free-text notes."""

    name: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, label: str, value: str) -> None:
        self.rows.append((label, value))
        print(f"  {label}: {value}", flush=True)

    def show(self) -> None:
        if self.ratio is not None:
            print(f"  ratio: {self.ratio:.0%}   goal: {self.goal}   "
                  f"{'met' if self.met else 'not met'}", flush=True)
        for note in self.notes:
            print(f"  note: {note}", flush=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_text(seconds: list[float]) -> str:
    return (f"p50 {percentile(seconds, 0.5) * 1000:.1f} ms, p99 {percentile(seconds, 0.99) * 1000:.1f} ms, "
            f"max {max(seconds, default=0) * 1000:.1f} ms")


async def closed_loop(concurrency: int, total: int, one: Callable[[int], Awaitable[None]]) -> tuple[float, list[float]]:
    """``concurrency`` clients each sending its next request when the last was answered; ``total`` in all.

    Returns the elapsed seconds and each request's latency.
    """
    latencies: list[float] = []
    counter = iter(range(total))

    async def client() -> None:
        for n in counter:
            started = time.perf_counter()
            await one(n)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def open_loop(rate: float, total: int, one: Callable[[int], Awaitable[None]]) -> list[float]:
    """``total`` requests started at a steady ``rate`` per second whatever the answers do; their latencies."""
    latencies: list[float] = []

    async def timed(n: int) -> None:
        started = time.perf_counter()
        await one(n)
        latencies.append(time.perf_counter() - started)

    tasks = []
    start = time.perf_counter()
    for n in range(total):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(timed(n)))
    await asyncio.gather(*tasks)
    return latencies


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Process:
    """A server process started with ``python -m``, stopped (and waited for) on exit."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        # No GATEWAY_ variable of the shell decides what is measured.
        base = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        self.process = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env={**base, **(env or {})})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def wait_for_workers(redis_url: str, count: int, timeout: float = 120) -> None:
    """Until ``count`` RQ workers are registered: a worker still importing is start-up, not latency."""
    connection = Redis.from_url(redis_url)
    try:
        wait_until_sync(lambda: Worker.count(connection=connection) >= count, timeout=timeout,
                        what=f"{count} workers registered")
    finally:
        connection.close()


def gateway_env(redis_url: str, port: int, **extra: str) -> dict[str, str]:
    """The gateway's settings; the rules are the built-in ones unless ``GATEWAY_RULES_PATH`` is given."""
    return {
        "GATEWAY_REDIS_URL": redis_url, "GATEWAY_PORT": str(port), "GATEWAY_SECRET_KEY": "bench-secret",
        "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN, "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_PUBLIC_URL": PUBLIC_URL,
        "GATEWAY_TWILIO__AUTH_TOKEN": TWILIO_TOKEN, "GATEWAY_TWILIO__ACCOUNT_SID": TWILIO_ACCOUNT,
        "GATEWAY_TWILIO__FROM_NUMBER": OUR_NUMBER,
        "GATEWAY_WEBCHAT__FRAMES_PER_SECOND": "100000", "GATEWAY_WEBCHAT__FRAME_BURST": "100000",
        # Every benchmark visitor comes from 127.0.0.1: the per-address caps (new conversations, open sockets) are off.
        "GATEWAY_WEBCHAT__NEW_CONVERSATIONS_PER_ADDRESS_PER_HOUR": "0", "GATEWAY_WEBCHAT__SOCKETS_PER_ADDRESS": "0",
        **extra,
    }


# The ingest levers (docs/PERFORMANCE.md), switched off one by one for a same-run comparison;
# the gateway's defaults have them all on.
INGEST_LEVERS: list[tuple[str, dict[str, str]]] = [
    ("lever off: group commit and identity cache (each message its own two pipelines)",
     {"GATEWAY_INGEST__GROUP_COMMIT": "false", "GATEWAY_INGEST__IDENTITY_CACHE_ENTRIES": "0"}),
    ("lever off: group commit (identity cache on)", {"GATEWAY_INGEST__GROUP_COMMIT": "false"}),
]


@contextmanager
def gateway(redis_url: str, **extra: str) -> Iterator[int]:
    """``gateway serve`` (one web process) on a free port; yields the port once /readyz answers."""
    port = free_port()
    profile = os.environ.get("BENCH_PROFILE")  # a path: the web process runs under cProfile, written there
    command = ["cProfile", "-o", profile, "-m", "gateway.cli", "serve"] if profile else ["gateway.cli", "serve"]
    process = Process(command, gateway_env(redis_url, port, **extra))
    try:
        wait_until_sync(lambda: process.process.poll() is not None or answers(f"http://127.0.0.1:{port}/readyz"),
                        timeout=120, what="gateway serve")
        if process.process.poll() is not None:
            raise RuntimeError(f"gateway serve exited with {process.process.returncode}")
        yield port
    finally:
        process.stop()


@contextmanager
def gateways(redis_url: str, count: int, **extra: str) -> Iterator[list[int]]:
    """``count`` web processes on one Redis (the web process is stateless); the client spreads its load."""
    with ExitStack() as stack:
        yield [stack.enter_context(gateway(redis_url, **extra)) for _ in range(count)]


@contextmanager
def bare(kind: str, *extra: str) -> Iterator[int]:
    """A baseline server of ``benchmarks.bare`` (answers, stores nothing) on a free port."""
    port = free_port()
    process = Process(["benchmarks.bare", kind, str(port), *extra])
    try:
        wait_until_sync(lambda: answers(f"http://127.0.0.1:{port}/ready") if kind != "smtp" else _listens(port),
                        timeout=30, what=f"bare {kind} server")
        yield port
    finally:
        process.stop()


def _listens(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    memory = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio (uvloop not installed)"
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "memory": memory,
            "python": platform.python_version(), "redis": redis_version.split(" sha=")[0],
            "event loop": loop, "load average": " ".join(f"{v:.2f}" for v in os.getloadavg())}
