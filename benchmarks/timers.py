"""SLA timers at scale: 100,000 open conversations with armed timers on a real redis-server.

Two designs, the same load:

- **index**: deadlines in the ``gw:timers`` sorted set, fired by the sweeper
  (``workers/sweeper.py``) doing the real work per timer: re-read the
  conversation, recompute the deadline from its timeline, write the fired
  mark and the event message, emit the event.
- **rq**: one ``enqueue_at`` job per deadline, moved by RQ's scheduler and run
  by forking ``rq worker`` processes (the job only records when it ran: the
  least a timer job could do).

Every conversation has four armed timers (first response and resolution,
warning and breach). ``--due`` conversations have their first response
warning and breach in the next minute (due spread over ``--window`` seconds,
breach 30 s after warning); the rest are armed far ahead. Lateness = when
the timer fired minus its deadline. Memory per armed timer is the INFO
``used_memory`` difference over the number of timers armed.

    python -m benchmarks.timers [--conversations 100000] [--due 10000] [--window 30] [--rq-workers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from conversations import codec
from conversations import keys as core_keys
from gateway.runtime import build_services
from router import LiveRules
from tests.support import ROOT, RedisServer, settings_for, write_rules
from workers import keys, metrics
from workers.sweeper import Sweeper

RULES = """\
queues:
  support: {sla_policy: far}
sla_policies:
  soon: {first_response: 1m, resolution: 1d, warning_at: 50%}
  far: {first_response: 1d, resolution: 3d}
default: {queue: support}
"""
LEAD = 20.0  # seconds between the end of setup and the first due timer
RECORD = "bench:rq:lateness"


def record(due: float) -> None:
    """The RQ variant's timer job: note how late it ran."""
    SyncRedis.from_url(os.environ["BENCH_REDIS_URL"]).rpush(RECORD, time.time() - due)


def percentiles(values: list[float]) -> str:
    if not values:
        return "none fired"
    ordered = sorted(values)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return f"p50 {p(0.50):.3f}s  p99 {p(0.99):.3f}s  max {ordered[-1]:.3f}s  (n={len(ordered)})"


def used_memory(client: SyncRedis) -> int:
    return int(client.info("memory")["used_memory"])


async def create_conversations(redis: Redis, numbers: range, due: int, window: float, start: datetime) -> list[str]:
    """Open conversations written directly in the store's layout (ingest is not what is measured).

    Numbers below ``due`` get the "soon" policy: first response due 60 s after creation
    (warning at 30 s), creation spread so their warnings fall over ``window`` after ``LEAD``.
    """
    ids = []
    for base in range(numbers.start, numbers.stop, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for n in range(base, min(base + 1000, numbers.stop)):
                conversation_id, customer_id = f"cnv_bench{n:07d}", f"cus_bench{n:07d}"
                soon = n < due
                created = start + timedelta(seconds=LEAD + window * n / max(due, 1) - 30) if soon else start
                ck = core_keys.CustomerKeys(customer_id)
                pipe.set(core_keys.conversation_locator(conversation_id), customer_id)
                pipe.hset(ck.conversation(conversation_id), mapping={
                    "id": conversation_id, "customer_id": customer_id, "status": "open", "queue": "support",
                    "tier": 1, "priority": "normal", "tags": "[]", "created_at": codec.to_ms(created),
                    "updated_at": codec.to_ms(created), "sla_policy": "soon" if soon else "far",
                    "message_count": 1, "last_inbound_channel": "sms"})
                pipe.xadd(ck.messages(conversation_id), {
                    "id": f"msg_bench{n:07d}", "direction": "inbound", "author": "+1555", "text": "help",
                    "created_at": str(codec.to_ms(created)), "channel": "sms"})
                ids.append(conversation_id)
            await pipe.execute()
    return ids


async def arm_all(runtime, ids: list[str]) -> float:
    """Arm through the real path (dirty marks, ``Sweeper.arm_marked``); returns arms per second."""
    for base in range(0, len(ids), 5000):
        await runtime.redis.zadd(keys.TIMERS_DIRTY, {cid: 0 for cid in ids[base:base + 5000]})
    sweeper = Sweeper(runtime, batch=2000)
    started = time.monotonic()
    await sweeper.arm_marked()
    return len(ids) / (time.monotonic() - started)


async def index_design(server: RedisServer, args) -> dict:
    redis = Redis.from_url(server.url, decode_responses=True, max_connections=200)
    sync = SyncRedis.from_url(server.url)
    sync.flushall()
    rules_path = write_rules(RULES)
    runtime = build_services(settings_for(rules_path, redis_url=server.url), redis, sync, LiveRules(rules_path))
    # The conversations armed far ahead first (memory per timer is measured on them), then the
    # ones due in this run, so the lead before their first deadline covers only their own arming.
    far = await create_conversations(redis, range(args.due, args.conversations), args.due, args.window,
                                     datetime.now(UTC))
    before = used_memory(sync)
    arm_rate = await arm_all(runtime, far)
    per_timer = (used_memory(sync) - before) / await redis.zcard(keys.TIMERS)
    start = datetime.now(UTC)
    ids = await create_conversations(redis, range(0, args.due), args.due, args.window, start)
    await arm_all(runtime, ids)
    armed = await redis.zcard(keys.TIMERS)
    print(f"index: armed {armed:,} timers on {len(far) + len(ids):,} conversations "
          f"(arming {arm_rate:,.0f} conversations/s); {per_timer:.0f} bytes per armed timer "
          "(zset member + deadline fields on the conversation)")
    first_due = start + timedelta(seconds=LEAD)
    if datetime.now(UTC) > first_due:
        print("  warning: setup took longer than the lead; the first timers start late")
    sweeper = Sweeper(runtime)
    stop = asyncio.Event()
    loop = asyncio.create_task(sweeper.run(runtime.settings.sweep_interval_seconds, stop))
    expected = 2 * args.due
    deadline = time.monotonic() + LEAD + args.window + 120
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        if await _fired(redis) >= expected:
            break
    stop.set()
    await loop
    lateness = await _lateness(runtime, ids[: args.due])
    print(f"index: {len(lateness):,} of {expected:,} due timers fired; lateness {percentiles(lateness)}")
    await runtime.close()
    await redis.aclose()
    return {"armed": armed, "bytes_per_timer": per_timer, "lateness": lateness, "arm_rate": arm_rate}


async def _fired(redis: Redis) -> int:
    raw = await redis.hgetall(metrics.METRICS)
    return sum(int(v) for k, v in raw.items() if k.startswith(("warnings|", "breaches|")))


async def _lateness(runtime, ids: list[str]) -> list[float]:
    values, by_bucket = [], {}
    first = None
    for conversation_id in ids:
        for message in await runtime.store.messages(conversation_id):
            if message.kind in ("sla_warning", "sla_breach"):
                due = codec.from_ms(message.meta["due"])
                late = (message.created_at - due).total_seconds()
                values.append(late)
                first = min(first or due, due)
                by_bucket.setdefault(due, late)
    if os.environ.get("BENCH_TRACE") and first is not None:
        buckets: dict[int, float] = {}
        for due, late in by_bucket.items():
            key = int((due - first).total_seconds() // 10) * 10
            buckets[key] = max(buckets.get(key, 0.0), late)
        print("  max lateness by due time (s after the first):", {k: round(v, 2) for k, v in sorted(buckets.items())})
    return values


def rq_design(server: RedisServer, args) -> dict:
    from rq import Queue

    sync = SyncRedis.from_url(server.url)
    sync.flushall()
    queue = Queue("timers", connection=sync)
    before = used_memory(sync)
    # One job per armed deadline, as "one RQ scheduled job per deadline" needs: 4 per conversation.
    total = args.conversations * 4
    far = time.time() + 86400
    enqueue_started = time.monotonic()
    for _ in range(total - 2 * args.due):
        queue.enqueue_at(datetime.fromtimestamp(far, UTC), "benchmarks.timers.record", far, result_ttl=0)
    start = time.time()
    due_jobs = []
    for n in range(args.due):
        warning = start + LEAD + args.window * n / max(args.due, 1)
        due_jobs += [warning, warning + 30]
    for due in due_jobs:
        queue.enqueue_at(datetime.fromtimestamp(due, UTC), "benchmarks.timers.record", due, result_ttl=0)
    per_job = (used_memory(sync) - before) / total
    print(f"rq: {total:,} scheduled jobs enqueued in {time.monotonic() - enqueue_started:.0f}s; "
          f"{per_job:.0f} bytes per scheduled job")
    env = {**os.environ, "BENCH_REDIS_URL": server.url, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([shutil.which("rq") or "rq", "worker", "--with-scheduler", "-q", "--url",
                                 server.url, "timers"], env=env, cwd=ROOT) for _ in range(args.rq_workers)]
    try:
        deadline = time.monotonic() + max(0.0, start + LEAD - time.time()) + args.window + 120
        while time.monotonic() < deadline and sync.llen(RECORD) < len(due_jobs):
            time.sleep(1)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    lateness = [float(v) for v in sync.lrange(RECORD, 0, -1)]
    print(f"rq: {len(lateness):,} of {len(due_jobs):,} due jobs ran within the run; lateness {percentiles(lateness)}")
    return {"bytes_per_job": per_job, "lateness": lateness, "expected": len(due_jobs)}


def run(conversations: int = 100_000, due: int = 10_000, window: float = 120.0, lead: float = LEAD):  # type: ignore[no-untyped-def]
    """The index design only; returns a ``benchmarks.harness.Result`` with p99 lateness and the arming rate."""
    from benchmarks.harness import Result, percentile

    global LEAD
    LEAD = lead
    result = Result("timers", goal="p99 <= 1 s late; arming >= 5,000 conversations/s")

    class Args:
        pass
    args = Args()
    args.conversations, args.due, args.window = conversations, due, window  # type: ignore[attr-defined]
    server = RedisServer()
    try:
        index = asyncio.run(index_design(server, args))
    finally:
        server.stop()
    p99 = percentile(index["lateness"], 0.99)
    result.rows += [
        (f"{conversations:,} conversations, {index['armed']:,} timers armed",
         f"arming {index['arm_rate']:,.0f} conversations/s, {index['bytes_per_timer']:.0f} B per timer"),
        (f"{len(index['lateness']):,} of {2 * due:,} due timers fired", f"lateness {percentiles(index['lateness'])}"),
    ]
    result.ratio = index["arm_rate"] / 5000
    result.notes.append("ratio = arming rate / the 5,000 conversations/s goal")
    result.met = p99 <= 1.0 and index["arm_rate"] >= 5000
    result.data = {"p99": p99, "arm_rate": index["arm_rate"]}
    result.show()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000, help="conversations whose timers come due in the run")
    parser.add_argument("--window", type=float, default=120.0, help="seconds over which their warnings come due")
    parser.add_argument("--rq-workers", type=int, default=4)
    parser.add_argument("--skip-rq", action="store_true")
    args = parser.parse_args()
    server = RedisServer()
    try:
        index = asyncio.run(index_design(server, args))
        p99 = sorted(index["lateness"])[int(0.99 * len(index["lateness"]))] if index["lateness"] else None
        print(f"index: p99 lateness {p99 if p99 is None else f'{p99:.3f}s'}; "
              f"arming {index['arm_rate']:,.0f} conversations/s")
        result = {"index_p99": p99, "arm_rate": index["arm_rate"]}
        if not args.skip_rq:
            rq_result = rq_design(server, args)
            result["rq_fired"] = len(rq_result["lateness"])
        print(json.dumps(result))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
