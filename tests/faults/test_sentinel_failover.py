"""Sentinel failover under load: the gateway follows the new primary; every acknowledged message survives.

A primary, one replica and three sentinels (quorum 2, down-after 1 s) on
loopback ports. ``gateway serve``, ``worker --no-sweeper`` and ``sweeper``
find the primary through ``GATEWAY_REDIS_SENTINELS`` and acknowledge an
inbound message only after the replica confirmed it
(``GATEWAY_REDIS_MIN_REPLICAS_ACK=1``, Redis ``WAIT``). The primary is killed
(kill -9) under load; the sentinels promote the replica; the old primary is
started again, as its supervisor would, and rejoins as a replica. Every
message acknowledged before, during and after is on the new primary, once.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.faults.load import ChatVisitor, SmsLoad
from tests.faults.processes import Process, WebProcess, gateway_env, rules_file, workers_running
from tests.faults.servers import SentinelSet
from tests.faults.verify import (
    check_nothing_acked_is_lost,
    now,
    poll_readyz,
    reply_reaches_visitor,
    report,
    scheduled_job_runs,
    seconds,
    sla_timer_fires,
    stored_messages,
)
from tests.support import wait_until


@pytest.mark.timeout(150)
async def test_sentinel_failover_under_load_keeps_every_acknowledged_message():
    sentinels = SentinelSet().start()
    env = gateway_env({"GATEWAY_REDIS_SENTINELS": sentinels.addresses, "GATEWAY_REDIS_SENTINEL_MASTER": sentinels.service,
                       "GATEWAY_REDIS_MIN_REPLICAS_ACK": "1"}, rules_file())
    processes: list[Process] = []
    try:
        web = WebProcess(env)
        worker = Process(["worker", "--no-sweeper"], env, "worker")
        sweeper = Process(["sweeper"], env, "sweeper")
        processes += [web, worker, sweeper]
        await wait_until(lambda: workers_running(sentinels.primary.url), timeout=30,
                         what="the worker and the sweeper to start")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            figures = await _failover_under_load(session, sentinels, web)
            figures["reply_delivered_s"] = await reply_reaches_visitor(session, web.url)
            address = sentinels.master_address()
            assert address is not None
            figures["scheduled_job_ran_s"] = await scheduled_job_runs(f"redis://{address[0]}:{address[1]}/0")
            await sla_timer_fires(session, web.url)
        assert "unhandled error" not in web.output(), web.output()[-3000:]
        for process in processes:
            assert process.alive(), f"{process.name} died:\n{process.output()[-3000:]}"
        report("sentinel_failover", figures)
    finally:
        for process in processes:
            process.stop()
        sentinels.stop()


async def _failover_under_load(session: aiohttp.ClientSession, sentinels: SentinelSet,
                               web: WebProcess) -> dict[str, object]:
    old = ("127.0.0.1", sentinels.primary.port)
    sms = SmsLoad(session, web.url, web.url, rate=20.0)
    visitors = [ChatVisitor(session, [web.url], f"visitor{n}") for n in range(2)]
    stop, done = asyncio.Event(), asyncio.Event()
    readyz: list[tuple[float, int]] = []
    tasks = [asyncio.create_task(sms.run(stop)), asyncio.create_task(poll_readyz(session, web.url, readyz, done))]
    tasks += [asyncio.create_task(v.keep_connected(done)) for v in visitors]
    tasks += [asyncio.create_task(v.chat(stop, 3.0)) for v in visitors]
    try:
        await wait_until(lambda: len(sms.acked) >= 20 and all(len(v.acked) >= 3 for v in visitors), timeout=20,
                         what="acknowledged load before the kill")
        acked_before = len(sms.acked) + sum(len(v.acked) for v in visitors)

        killed = now()
        await asyncio.to_thread(sentinels.primary.kill)
        new = await wait_until(lambda: (address := sentinels.master_address()) != old and address, timeout=30,
                               what="the sentinels to promote the replica")
        promoted = now()
        await wait_until(lambda: any(t >= promoted and status == 200 for t, status in readyz), timeout=15,
                         what="/readyz to answer from the new primary")
        ready = min(t for t, status in readyz if t >= promoted and status == 200)

        # The old primary's supervisor starts it again; the sentinels make it the new primary's replica.
        await asyncio.to_thread(sentinels.primary.start)
        rejoined = now()
        await wait_until(lambda: sms.answered(200, after=rejoined) and all(
            any(t >= rejoined for t in v.ack_times) for v in visitors), timeout=30,
            what="acknowledgements to resume with a replica confirming again")
        stop.set()
        await wait_until(lambda: all(m.acked_at for m in sms.messages) and not any(v.pending for v in visitors),
                         timeout=30, what="every message to be acknowledged in the end")
        done.set()
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        done.set()
        for task in tasks:
            task.cancel()

    statuses = sms.statuses()
    assert 500 not in statuses, f"a webhook got 500: {statuses}"
    figures = check_nothing_acked_is_lost(await stored_messages(session, web.url), sms, visitors)
    first_ack_after_kill = min(t for m in sms.messages for t, s in m.answers if s == 200 and t > killed)
    return {
        **figures,
        "new_primary_port": new[1],
        "acked_before_kill": acked_before,
        "failover_s": seconds(killed, promoted),
        "readyz_on_new_primary_s": seconds(killed, ready),
        "first_ack_after_kill_s": seconds(killed, first_ack_after_kill),
        "old_primary_restarted_at_s": seconds(killed, rejoined),
        "webhook_503s": statuses[503],
        "webhooks_refused_then_acked": sum(1 for m in sms.messages if m.acked_at and len(m.answers) > 1),
    }
