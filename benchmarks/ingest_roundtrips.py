"""Redis round trips and commands per stored message, counted in the web process's own Redis clients.

The web app runs in this process on a real ``redis-server``; redis-py's
connections are wrapped (this tool only) to count every write to a socket
(one round trip: a command, or a whole pipeline) and every command packed.
One signed Twilio webhook from a new number (it opens and routes a
conversation), then one more from the same number (an append), then a web
chat visitor's first and second message: each row is that one request.
Run from a checkout of an older commit to compare (``--trace`` lists the commands).

    python -m benchmarks.ingest_roundtrips [--trace]
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis.asyncio.connection as async_connection
import redis.connection as sync_connection
from aiohttp.test_utils import TestClient, TestServer

from benchmarks import harness
from benchmarks.harness import Result
from benchmarks.ingest_sms import PATH, signed_requests
from gateway.app import create_app
from gateway.settings import load_settings

COUNTS: Counter[str] = Counter()
TRACE: list[str] = []  # each round trip's command names, in order (``--trace``)


@contextmanager
def counting() -> Iterator[None]:
    """Count round trips (socket writes) and commands of redis-py's async and sync connections."""
    originals: list[tuple[Any, str, Any]] = []

    def wrap(cls: Any, name: str, label: str, per_call: Any) -> None:
        original = getattr(cls, name)
        originals.append((cls, name, original))

        if asyncio.iscoroutinefunction(original):
            async def counted_async(self: Any, *args: Any, **kwargs: Any) -> Any:
                COUNTS[label] += per_call(args)
                return await original(self, *args, **kwargs)
            setattr(cls, name, counted_async)
        else:
            def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
                COUNTS[label] += per_call(args)
                return original(self, *args, **kwargs)
            setattr(cls, name, counted)

    def trip(args: Any) -> int:
        TRACE.append("|")
        return 1

    def command(args: Any) -> int:
        TRACE.append(str(args[0]) if args else "?")
        return 1

    wrap(async_connection.AbstractConnection, "send_packed_command", "async round trips", trip)
    wrap(async_connection.AbstractConnection, "pack_command", "async commands", command)
    wrap(sync_connection.AbstractConnection, "send_packed_command", "sync round trips (RQ)", lambda args: 1)
    try:
        yield
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


def delta(before: Counter[str]) -> str:
    now = COUNTS.copy()
    now.subtract(before)
    return ", ".join(f"{label} {now[label]}" for label in sorted(now) if now[label])


async def run(trace: bool = False) -> Result:
    result = Result("ingest_roundtrips", goal="figure only")
    print("ingest_roundtrips: Redis round trips and commands of one request, in the web process's clients",
          flush=True)
    with harness.redis_server() as server:
        env = harness.gateway_env(server.url, 0)
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        try:
            settings = load_settings()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        app = create_app(settings)
        with counting():
            async with TestClient(TestServer(app)) as client:
                webhooks = signed_requests(10)  # one sender, 10 messages
                first, second = webhooks[0], webhooks[1]
                for label, (form, signature) in (("SMS, first message of a new number", first),
                                                 ("SMS, second message (append)", second)):
                    before = COUNTS.copy()
                    TRACE.clear()
                    response = await client.post(PATH, data=form, headers={"X-Twilio-Signature": signature})
                    assert response.status == 200, await response.text()
                    result.add(label, delta(before))
                    if trace:
                        print("    " + " ".join(TRACE).replace(" |", "  |"), flush=True)
                async with client.ws_connect("/webchat/ws") as ws:
                    await ws.send_json({"type": "hello", "name": "Ada"})
                    while (await ws.receive_json())["type"] != "welcome":
                        pass
                    for n, label in enumerate(("web chat, first message of a new visitor",
                                               "web chat, second message (append)")):
                        before = COUNTS.copy()
                        TRACE.clear()
                        await ws.send_json({"type": "message", "client_id": f"m{n}", "text": f"message {n}"})
                        while (frame := await ws.receive_json())["type"] != "ack":
                            assert frame["type"] != "error", frame
                        result.add(label, delta(before))
                        if trace:
                            print("    " + " ".join(TRACE).replace(" |", "  |"), flush=True)
    result.show()
    return result


def main() -> None:
    import sys

    asyncio.run(run(trace="--trace" in sys.argv))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
