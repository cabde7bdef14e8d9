"""Reports at scale: a summary over 100,000 conversations on a real redis-server.

Rows are what the event listener stores (``workers/report_store.py``): one per
conversation, in its opening hour's bucket. Setup writes ``--conversations``
synthetic rows spread over ``--days`` through the same script the listener uses,
then times ``summary`` (all of them, and filtered to one queue and channel) and a
timeseries per day. A few real conversations (``--real``) are also opened,
answered and resolved through the service, to measure what recording costs per event.

    python -m benchmarks.reports [--conversations 100000] [--days 30] [--runs 5] [--real 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.runtime import build_services
from router import LiveRules
from tests.support import RedisServer, settings_for, write_rules
from workers import report_store
from workers.report_facts import Facts
from workers.report_summary import Filters

RULES = """\
queues:
  support: {sla_policy: std}
  service: {sla_policy: std}
sla_policies:
  std: {first_response: 1h, resolution: 1d}
rules:
  - name: tech
    when: {text: [error]}
    then: {queue: support}
default: {queue: service}
"""
START = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic(n: int, days: int, rng: random.Random) -> list[Facts]:
    span_ms = days * 86_400_000
    start_ms = int(START.timestamp() * 1000)
    rows = []
    for i in range(n):
        answered = rng.random() < 0.9
        resolved = answered and rng.random() < 0.8
        frt = rng.expovariate(1 / 1800) if answered else None
        rows.append(Facts(
            stamp=f"{start_ms + i}-0", conversation_id=f"c{i:07d}", opened_ms=start_ms + rng.randrange(span_ms),
            queue=rng.choice(("support", "service")), tier=rng.choice((1, 1, 1, 2, 3)),
            channel=rng.choice(("email", "sms", "webchat", "slack")), reopens=int(rng.random() < 0.05),
            messages_in=rng.randint(1, 6), messages_out=rng.randint(0, 5), agent_replies=rng.randint(0, 4),
            first_response=frt, first_response_business=frt * 0.6 if frt is not None else None,
            resolution=frt * 8 if resolved and frt is not None else None,
            resolution_business=frt * 5 if resolved and frt is not None else None,
            warnings=(int(rng.random() < 0.1), 0, 0), breaches=(int(rng.random() < 0.05), 0, 0), tracked=(1, 0, 1),
            escalations=int(rng.random() < 0.05), transfers=int(rng.random() < 0.05),
            csat_sent=int(resolved), rating=rng.randint(1, 5) if resolved and rng.random() < 0.3 else None))
    return rows


async def load(redis: Redis, rows: list[Facts]) -> None:
    for chunk in range(0, len(rows), 2000):
        async with redis.pipeline(transaction=False) as pipe:
            for facts in rows[chunk:chunk + 2000]:
                hour = report_store.hour_of(facts.opened_ms)
                pipe.eval(report_store._RECORD, 4, report_store.bucket_key(hour), report_store.HOURS,
                          report_store.VERSIONS, report_store.STALE, facts.conversation_id, facts.stamp, facts.row(), str(hour))
            await pipe.execute()


async def timed(runs: int, body) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        began = time.perf_counter()
        result = await body()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


async def real_conversations(url: str, count: int) -> tuple[float, float]:
    """Per conversation (ingest, reply, resolve): ms with and without the reports' listener."""
    settings = settings_for(write_rules(RULES), redis_url=url)
    results = []
    for with_reports in (False, True):
        redis = Redis.from_url(url, decode_responses=True)
        sync = SyncRedis.from_url(url)
        services = build_services(settings, redis, sync, LiveRules(settings.rules_path))
        if not with_reports:
            services.events._listeners = [lst for lst in services.events._listeners
                                          if "report_store" not in getattr(lst, "__qualname__", "")
                                          and "report_store" not in getattr(lst, "__module__", "")]
        began = time.perf_counter()
        for i in range(count):
            identity = Identity(Channel.SMS, f"+1555{int(with_reports)}{i:06d}")
            result = await services.service.ingest(InboundMessage(
                channel=Channel.SMS, identity=identity, provider_id=f"b{with_reports}{i}", text="an error",
                received_at=datetime.now(UTC)))
            await services.service.reply(result.conversation_id, "on it", "bench")
            await services.service.resolve(result.conversation_id, "bench")
        results.append((time.perf_counter() - began) / count * 1000)
        await redis.aclose()
        sync.close()
    return results[0], results[1]


async def main(args: argparse.Namespace) -> None:
    server = RedisServer()
    redis = Redis.from_url(server.url, decode_responses=True)
    try:
        rows = synthetic(args.conversations, args.days, random.Random(7))
        began = time.perf_counter()
        await load(redis, rows)
        print(f"stored {args.conversations:,} rows over {args.days} days in {time.perf_counter() - began:.1f} s; "
              f"redis used_memory {(await redis.info('memory'))['used_memory'] / 1e6:.0f} MB")
        start_ms = int(START.timestamp() * 1000)
        everything = Filters(start_ms, start_ms + args.days * 86_400_000)
        cold, summary = await timed(1, lambda: report_store.summary(redis, everything))
        assert isinstance(summary, dict) and summary["volume"]["new"] == args.conversations
        print(f"first summary over {summary['volume']['new']:,} conversations, no hour cached yet (computes and "
              f"caches every hour's aggregate): {cold * 1000:.0f} ms")
        await load(redis, rows[:1000])  # rows of 1,000 conversations change (same content: versions move)
        began = time.perf_counter()
        warmed = 0
        while passed := await report_store.warm(redis):  # the sweeper does up to 500 hours a pass
            warmed += passed
        print(f"the sweeper's warm pass over the {warmed} hours those changes touched: "
              f"{(time.perf_counter() - began) * 1000:.0f} ms")
        seconds, summary = await timed(args.runs, lambda: report_store.summary(redis, everything))
        print(f"summary over {args.conversations:,} conversations, hours cached: {seconds * 1000:.0f} ms (median of "
              f"{args.runs})")
        one = Filters(everything.start_ms, everything.end_ms, queue="support", channel="email")
        seconds, summary = await timed(args.runs, lambda: report_store.summary(redis, one))
        assert isinstance(summary, dict)
        print(f"summary filtered to support/email ({summary['volume']['new']:,} conversations): {seconds * 1000:.0f} ms")
        seconds, _ = await timed(args.runs, lambda: report_store.series(redis, everything, "first_response_seconds.p90",
                                                                          86_400_000))
        print(f"timeseries first_response_seconds.p90 per day over {args.days} days: {seconds * 1000:.0f} ms")
        week = Filters(everything.start_ms, everything.start_ms + 7 * 86_400_000)
        seconds, summary = await timed(args.runs, lambda: report_store.summary(redis, week))
        assert isinstance(summary, dict)
        print(f"summary of one week ({summary['volume']['new']:,} conversations): {seconds * 1000:.0f} ms")
        if args.real:
            without, with_reports = await real_conversations(server.url, args.real)
            print(f"open + reply + resolve through the service: {without:.1f} ms without the reports' listener, "
                  f"{with_reports:.1f} ms with it ({args.real} conversations each)")
    finally:
        await redis.aclose()
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--real", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
