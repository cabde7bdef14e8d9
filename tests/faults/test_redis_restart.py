"""Redis restarted under load: nothing acknowledged is lost, and every process recovers by itself.

``gateway serve``, ``gateway worker --no-sweeper`` and ``gateway sweeper`` run
as real processes on a real redis-server with AOF. Signed Twilio webhooks
(retried on 503, as Twilio would) and four web chat visitors (resending what
was not acknowledged) keep a steady load while Redis stops and starts again:

- ``everysec`` + a clean stop (SIGTERM: Redis writes and fsyncs its AOF);
- ``always`` + kill -9 (every acknowledged write was fsynced before the ack).

During the outage webhooks get 503 (never 500) and sockets an ``unavailable``
error frame; /readyz answers 503, then 200 again; the same three processes
then store, deliver a reply over pub/sub and fire an SLA timer.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.faults.load import ChatVisitor, SmsLoad
from tests.faults.processes import Process, WebProcess, admin_headers, gateway_env, rules_file, workers_running
from tests.faults.servers import RedisNode, aof_args
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

SMS_RATE = 20.0
CHAT_RATE = 3.0  # per visitor, below the socket's frame limit (5/s) so resends fit
VISITORS = 4
OUTAGE_MESSAGES = 40


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("fsync", "stop"), [("everysec", "shutdown"), ("always", "kill")])
async def test_redis_restart_under_load_loses_no_acknowledged_message(fsync, stop):
    redis = RedisNode(aof_args(fsync)).start()
    env = gateway_env({"GATEWAY_REDIS_URL": redis.url}, rules_file())
    processes: list[Process] = []
    try:
        web = WebProcess(env)
        processes.append(web)
        worker = Process(["worker", "--no-sweeper"], env, "worker")
        sweeper = Process(["sweeper"], env, "sweeper")
        processes += [worker, sweeper]
        await wait_until(lambda: workers_running(redis.url), timeout=30, what="the worker and the sweeper to start")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
            figures = await _restart_under_load(session, redis, web, stop)
            for process in processes:
                assert process.alive(), f"{process.name} died:\n{process.output()[-3000:]}"
            figures["reply_delivered_s"] = await reply_reaches_visitor(session, web.url)
            figures["scheduled_job_ran_s"] = await scheduled_job_runs(redis.url)
            await sla_timer_fires(session, web.url)
            for process in processes:
                assert process.alive(), f"{process.name} died:\n{process.output()[-3000:]}"
        # No request and no socket ended in an unhandled error (a 500, or a socket closed by a crash).
        assert "unhandled error" not in web.output(), web.output()[-3000:]
        report(f"redis_restart[{fsync},{stop}]", figures)
    finally:
        for process in processes:
            process.stop()
        redis.stop()


async def _restart_under_load(session: aiohttp.ClientSession, redis: RedisNode, web: WebProcess,
                              stop_how: str) -> dict[str, object]:
    sms = SmsLoad(session, web.url, web.url, rate=SMS_RATE)
    visitors = [ChatVisitor(session, [web.url], f"visitor{n}") for n in range(VISITORS)]
    stop, done = asyncio.Event(), asyncio.Event()
    readyz: list[tuple[float, int]] = []
    tasks = [asyncio.create_task(sms.run(stop)), asyncio.create_task(poll_readyz(session, web.url, readyz, done))]
    tasks += [asyncio.create_task(v.keep_connected(done)) for v in visitors]
    tasks += [asyncio.create_task(v.chat(stop, CHAT_RATE)) for v in visitors]
    try:
        await wait_until(lambda: len(sms.acked) >= 20 and all(len(v.acked) >= 3 for v in visitors), timeout=20,
                         what="the load to be acknowledged before the outage")

        down = now()
        await asyncio.to_thread(redis.shutdown if stop_how == "shutdown" else redis.kill)
        stopped = now()
        # Down for as long as it takes OUTAGE_MESSAGES new webhooks to arrive (about 2 s), like a real restart.
        sent_before = len(sms.messages)
        await wait_until(lambda: len(sms.messages) - sent_before >= OUTAGE_MESSAGES and sms.answered(503, after=stopped)
                         and any(t >= stopped and code == "unavailable" for v in visitors for t, code in v.errors)
                         and any(t >= stopped and status == 503 for t, status in readyz),
                         timeout=15, what="503s, an unavailable frame and /readyz 503 during the outage")

        restarted = now()
        await asyncio.to_thread(redis.start)
        up = now()
        await wait_until(lambda: sms.answered(200, after=up) and all(
            any(t >= up for t in v.ack_times) for v in visitors) and any(
            t >= up and status == 200 for t, status in readyz), timeout=20,
            what="webhooks, every visitor and /readyz to recover")
        stop.set()
        try:
            await wait_until(lambda: all(m.acked_at or _gave_up(m) for m in sms.messages)
                             and not any(v.pending for v in visitors), timeout=30,
                             what="every message sent to be acknowledged in the end")
        except AssertionError as error:
            unacked = [(m.sid, m.answers[-3:]) for m in sms.messages if not m.acked_at][:5]
            pending = {v.name: (list(v.pending), v.errors[-3:], v.closes[-3:], len(v.welcomes)) for v in visitors
                       if v.pending}
            raise AssertionError(f"{error}: sms {unacked}; chat {pending}") from None
        done.set()
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        done.set()
        for task in tasks:
            task.cancel()

    statuses = sms.statuses()
    assert 500 not in statuses, f"a webhook got 500: {statuses}"
    assert set(statuses) <= {200, 503, "ClientConnectorError", "ServerDisconnectedError", "ClientOSError"}, statuses
    assert all(m.acked_at for m in sms.messages), "a webhook was never acknowledged"
    figures = check_nothing_acked_is_lost(await stored_messages(session, web.url), sms, visitors)
    first_ok = min(sms.answered(200, after=up))
    return {
        **figures,
        "webhook_503s_during_outage": statuses[503],
        "webhooks_sent_while_down": sum(1 for m in sms.messages if m.answers and down <= m.answers[0][0] <= up),
        "webhooks_refused_then_acked": sum(1 for m in sms.messages if m.acked_at and len(m.answers) > 1),
        "chat_unavailable_frames": sum(1 for v in visitors for _, code in v.errors if code == "unavailable"),
        "redis_down_s": seconds(down, up),
        "first_webhook_ack_after_redis_up_s": seconds(up, first_ok),
        "readyz_200_after_redis_up_s": seconds(up, min(t for t, s in readyz if t >= up and s == 200)),
        "redis_start_s": seconds(restarted, up),
        "sms_sent": len(sms.messages),
    }


def _gave_up(message) -> bool:
    """A final answer other than a 2xx (the test then reports it): no more retries will come."""
    return bool(message.answers) and isinstance(message.answers[-1][1], int) and message.answers[-1][1] != 503
