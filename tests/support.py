"""Test helpers: a real redis-server, app wiring, running jobs, polling with a deadline.

Nothing here imports pytest: the benchmarks use the same redis-server, settings
and rule files (``python -m benchmarks.timers``) without a test runner.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import redis

from gateway.settings import Settings

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ADMIN_TOKEN = "test-admin-token"
IDENTITY_SECRET = "test-identity-secret"


def settings_for(rules_path: Path, **overrides: Any) -> Settings:
    """Settings for a test or a benchmark: the given rule file, known secrets, no ``.env`` file.

    The rule file is always named, so no ``./routing.yaml`` or ``GATEWAY_RULES_PATH`` of the
    shell decides the rules (``tests/conftest.py``'s ``make_settings`` names the built-in ones).
    """
    values: dict[str, Any] = {
        "rules_path": rules_path,
        "admin_token": ADMIN_TOKEN,
        "secret_key": "test-secret-key",
        "webchat": {"identity_secret": IDENTITY_SECRET},
        # Attachment bytes in a directory of the test's own, never ./attachments of the checkout.
        "attachments": {"dir": tempfile.mkdtemp(prefix="gateway-attachments-")},
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def write_rules(text: str) -> Path:
    """A rule file of its own (in the temp dir) with ``text``."""
    handle, name = tempfile.mkstemp(prefix="gateway-rules-", suffix=".yaml")
    os.close(handle)
    path = Path(name)
    path.write_text(text)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A real redis-server on a free port in a temp dir, for integration tests."""

    def __init__(self, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install -y redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="gateway-redis-")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--protected-mode", "no", *(["--requirepass", password] if password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.url = f"redis://{f':{password}@' if password else ''}127.0.0.1:{self.port}/0"
        client = redis.Redis.from_url(self.url)
        wait_until_sync(lambda: _pings(client), timeout=10, what="redis-server to start")
        client.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


def redis_snapshot(client: redis.Redis) -> dict[bytes, tuple[str, object]]:
    """Every key with its type and value, to show a request changed nothing in Redis."""
    snapshot: dict[bytes, tuple[str, object]] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            value: object = client.get(key)
        elif kind == "hash":
            value = client.hgetall(key)
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "set":
            value = client.smembers(key)
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = client.xrange(key)
        else:
            value = None
        snapshot[key if isinstance(key, bytes) else key.encode()] = (kind, value)
    return snapshot


def wait_until_sync(predicate: Callable[[], object], *, timeout: float = 5.0, what: str = "condition",
                    interval: float = 0.02) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def wait_until(predicate: Callable[[], Awaitable[T] | T], *, timeout: float = 5.0, what: str = "condition",
                     interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


ROOT = Path(__file__).resolve().parent.parent


async def raw_request(client, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One request written byte for byte: header values that are not UTF-8 (a client library would refuse)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]
