"""/metrics never stalls the event loop on Redis; /readyz tells anonymous callers nothing about Redis (item 13)."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import redis

from gateway.appkeys import SERVICES
from tests.conftest import Backend, make_settings, start_client
from tests.support import RedisServer, wait_until
from workers import metrics


async def timed_get(client, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = await client.get(path)
    await response.read()
    return time.perf_counter() - started, response.status


async def test_a_scrape_while_redis_stalls_does_not_block_other_requests(aiohttp_client, redis_url, caplog):
    backend = Backend(make_settings(redis_url=redis_url))
    client = await start_client(aiohttp_client, backend)
    await metrics.record_fire(client.app[SERVICES].redis, "breach", "support", "first_response", 1.5)
    assert "gateway_sla_breaches_total" in await (await client.get("/metrics")).text()

    # Redis answers nobody for 6 s (as under a long command, a failover or a saturated link): long enough
    # that the scrape starts inside the pause even on a loaded machine.
    admin = redis.Redis.from_url(redis_url)
    admin.execute_command("CLIENT", "PAUSE", 6000, "ALL")
    admin.close()
    answered: list[float] = []  # when each /healthz, asked every 20 ms, was answered
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            assert (await timed_get(client, "/healthz"))[1] == 200
            answered.append(time.perf_counter())
            await asyncio.sleep(0.02)

    gc.collect()  # a full collection left over from earlier tests is not what is measured here
    prober = asyncio.create_task(probe())
    await wait_until(lambda: len(answered) >= 2, what="the prober to run")
    with caplog.at_level(logging.WARNING, logger="gateway.health"):
        scrape_seconds, scrape_status = await timed_get(client, "/metrics")
    after = len(answered)
    await wait_until(lambda: len(answered) > after, what="one more /healthz")
    stop.set()
    await prober
    longest = max(later - earlier for earlier, later in zip(answered, answered[1:]))
    # Alone it is about 0.03 s; the bound leaves room for a loaded CI machine, far below the stall.
    assert longest < 0.5, f"/healthz went unanswered for {longest:.3f} s during the scrape"
    assert scrape_status == 200 and scrape_seconds < 1.9, f"/metrics took {scrape_seconds:.3f} s"
    assert "SLA metrics left out of this scrape" in caplog.text


async def test_readiness_does_not_echo_the_redis_error(aiohttp_client, caplog):
    own = RedisServer()
    try:
        client = await start_client(aiohttp_client, Backend(make_settings(redis_url=own.url)))
        assert (await client.get("/readyz")).status == 200
    finally:
        own.stop()
    with caplog.at_level(logging.WARNING, logger="gateway.health"):
        response = await client.get("/readyz")
    assert response.status == 503
    assert await response.json() == {"status": "unavailable", "redis": "unavailable"}
    assert str(own.port) in caplog.text  # the reason is in the log, for the operator


async def test_readiness_waits_at_most_two_seconds_for_a_stalled_redis(aiohttp_client, redis_url, caplog):
    client = await start_client(aiohttp_client, Backend(make_settings(redis_url=redis_url)))
    assert (await client.get("/readyz")).status == 200
    admin = redis.Redis.from_url(redis_url)
    admin.execute_command("CLIENT", "PAUSE", 5000, "ALL")
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.health"):
            seconds, status = await timed_get(client, "/readyz")
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")  # the next test's Redis answers at once
        admin.close()
    assert status == 503 and 1.9 < seconds < 4.0, seconds  # READY_TIMEOUT, not the pause
    assert "within 2.0s" in caplog.text
