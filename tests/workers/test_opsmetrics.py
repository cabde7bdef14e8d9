"""The alerting gauges on /metrics, read from Redis at scrape time."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import start_client
from workers import keys, opsmetrics


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_the_gauges_show_queues_dead_letters_stuck_deliveries_overdue_timers_and_the_leader(
        aiohttp_client, fake_backend):
    client = await start_client(aiohttp_client, fake_backend)
    redis = fake_backend.sync_client()
    now_ms = int(time.time() * 1000)
    redis.rpush("rq:queue:outbound", "job-1", "job-2")
    redis.zadd("rq:failed:support", {"job-3": now_ms})
    redis.zadd(keys.FAILURES, {"f1": now_ms})
    redis.zadd(keys.OUTBOUND_PENDING, {"cnv_old": now_ms - 120_000, "cnv_new": now_ms})
    redis.zadd(keys.TIMERS, {"cnv_a|first_response|breach|1": now_ms - 42_000, "cnv_b|resolution|breach|1": now_ms + 9e6})

    found = samples(await (await client.get("/metrics")).text())
    assert found[("gateway_redis_up", ())] == 1
    assert found[("gateway_job_queue_length", (("queue", "outbound"),))] == 2
    assert found[("gateway_job_queue_length", (("queue", "service"),))] == 0
    assert found[("gateway_jobs_failed", (("queue", "support"),))] == 1
    assert found[("gateway_dead_letters", ())] == 1
    assert found[("gateway_outbound_stuck", ())] == 1  # only the one waiting longer than 30 s
    assert 41 < found[("gateway_sla_timers_overdue_seconds", ())] < 60
    assert found[("gateway_sweeper_leader", ())] == 0
    redis.set(keys.SWEEPER_LEADER, "token")
    found = samples(await (await client.get("/metrics")).text())
    assert found[("gateway_sweeper_leader", ())] == 1


def test_an_unreadable_redis_is_reported_as_down_not_as_a_failed_scrape():
    found = samples(opsmetrics.exposition(None).decode())
    assert found == {("gateway_redis_up", ()): 0.0}
