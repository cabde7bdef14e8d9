"""Outbound delivery: in order, once, retried with backoff, failed fast, recovered, dead-lettered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from conversations.locks import RedisLock
from conversations.models import Channel, DeliveryStatus
from gateway.appkeys import SERVICES
from tests.conftest import admin_headers, start_client
from tests.workers.fake_sender import FakeProviderSender
from tests.workers.support import Clock, fake_runtime, live_rules, sms
from workers import defaults, failures, keys, outbound
from workers.sweeper import Sweeper


async def conversation_with_replies(runtime, texts: list[str]) -> tuple[str, list[str]]:
    result = await runtime.service.ingest(sms("hello", f"in-{texts[0]}", datetime.now(UTC)))
    ids = [(await runtime.service.reply(result.conversation_id, text, author="agent")).id for text in texts]
    return result.conversation_id, ids


@pytest.fixture
async def runtime(provider):
    runtime = await fake_runtime(Clock(datetime.now(UTC)))
    runtime.service.clock = lambda: datetime.now(UTC)
    runtime.senders[Channel.SMS] = FakeProviderSender(provider.url)
    yield runtime
    await runtime.close()


def scheduled(runtime) -> list[tuple[str, datetime]]:
    registry = ScheduledJobRegistry(queue=Queue(defaults.OUTBOUND, connection=runtime.sync_redis))
    return [(job_id, registry.get_scheduled_time(job_id)) for job_id in registry.get_job_ids()]


async def test_messages_go_out_in_accepted_order_once_whichever_job_runs_first(runtime, provider):
    conversation_id, ids = await conversation_with_replies(runtime, ["one", "two", "three", "four"])
    for message_id in reversed(ids):  # jobs may run in any order
        await outbound.deliver_async(runtime, conversation_id, message_id)
    await outbound.deliver_async(runtime, conversation_id, ids[0])  # a redelivered job
    assert provider.texts_by_conversation() == {conversation_id: ["one", "two", "three", "four"]}
    assert provider.replayed == [] and len(provider.attempts) == 4
    states = {m.id: m.delivery for m in await runtime.store.messages(conversation_id) if m.id in ids}
    assert set(states.values()) == {DeliveryStatus.SENT}
    assert await runtime.redis.zscore(keys.OUTBOUND_PENDING, conversation_id) is None


async def test_a_transient_error_backs_off_honouring_retry_after_and_holds_later_messages(runtime, provider):
    provider.failures.append((429, 120))
    conversation_id, ids = await conversation_with_replies(runtime, ["first", "second"])
    before = datetime.now(UTC)
    assert await outbound.deliver_async(runtime, conversation_id, ids[0]) == "waiting"
    first = await runtime.store.message(conversation_id, ids[0])
    assert first.delivery == DeliveryStatus.QUEUED and "retrying in 120s" in first.delivery_error
    [(job_id, at)] = scheduled(runtime)
    assert job_id == f"deliver-retry-{ids[0]}-1" and at >= before + timedelta(seconds=119)
    # The second reply's job must not overtake the first.
    assert await outbound.deliver_async(runtime, conversation_id, ids[1]) == "waiting"
    assert provider.delivered == []
    # The scheduled retry's turn (what RQ's scheduler runs at that time):
    assert await outbound.deliver_async(runtime, conversation_id, ids[0], retry=True) == "drained"
    assert provider.texts_by_conversation() == {conversation_id: ["first", "second"]}


async def test_backoff_follows_the_schedule_and_never_undercuts_the_provider():
    assert outbound.backoff(1, None) == defaults.OUTBOUND_RETRY_INTERVALS[0]
    assert outbound.backoff(2, 1.0) == defaults.OUTBOUND_RETRY_INTERVALS[1]
    assert outbound.backoff(1, 90.0) == 90.0
    assert outbound.backoff(99, None) == defaults.OUTBOUND_RETRY_INTERVALS[-1]


async def test_a_permanent_error_fails_at_once_is_dead_lettered_and_does_not_block_the_rest(runtime, provider):
    provider.failures.append((400, None))
    conversation_id, ids = await conversation_with_replies(runtime, ["bad", "good"])
    await outbound.deliver_async(runtime, conversation_id, ids[0])
    bad = await runtime.store.message(conversation_id, ids[0])
    assert bad.delivery == DeliveryStatus.FAILED and "HTTP 400" in bad.delivery_error
    assert provider.texts_by_conversation() == {conversation_id: ["good"]}
    assert len(provider.attempts) == 2 and scheduled(runtime) == []
    [failure] = await failures.list_failures(runtime)
    assert failure["id"] == f"delivery:{ids[0]}" and "HTTP 400" in failure["error"]


async def test_giving_up_after_the_last_attempt_dead_letters_the_message(runtime, provider):
    runtime.settings = runtime.settings.model_copy(update={"outbound_max_attempts": 2})
    provider.failures += [(503, None), (503, None)]
    conversation_id, [message_id] = await conversation_with_replies(runtime, ["flaky"])
    await outbound.deliver_async(runtime, conversation_id, message_id)
    await outbound.deliver_async(runtime, conversation_id, message_id, retry=True)
    message = await runtime.store.message(conversation_id, message_id)
    assert message.delivery == DeliveryStatus.FAILED and "gave up after 2 attempts" in message.delivery_error
    assert [f["id"] for f in await failures.list_failures(runtime)] == [f"delivery:{message_id}"]


async def test_the_sweeper_re_enqueues_a_message_stuck_after_a_crash(runtime, provider):
    conversation_id, [message_id] = await conversation_with_replies(runtime, ["lost in a crash"])
    # The worker died mid-send: state "sending", no lock (it expired), the job gone.
    await runtime.service.record_delivery(conversation_id, message_id, DeliveryStatus.SENDING)
    # And this conversation's pending mark was never written (crash before the listener ran).
    await runtime.redis.delete(keys.OUTBOUND_PENDING)
    later = Sweeper(runtime, clock=lambda: datetime.now(UTC) + timedelta(minutes=2))
    assert await later.recover_outbound() == 1
    [job] = [j for j in Queue(defaults.OUTBOUND, connection=runtime.sync_redis).get_jobs()
             if j.id.startswith("deliver-recover-")]
    assert job.func_name == "workers.outbound.deliver" and job.args[0] == conversation_id
    await outbound.deliver_async(runtime, *job.args)
    assert provider.texts_by_conversation() == {conversation_id: ["lost in a crash"]}
    assert await later.recover_outbound() == 0


async def test_a_busy_conversation_checks_back_when_the_holders_lock_would_lapse(runtime, provider):
    conversation_id, [message_id] = await conversation_with_replies(runtime, ["wait"])
    holder = RedisLock(runtime.redis, keys.outbound_lock(conversation_id), 30)
    assert await holder.acquire()
    assert await outbound.deliver_async(runtime, conversation_id, message_id) == "busy"
    [(job_id, at)] = scheduled(runtime)
    assert job_id.startswith(f"deliver-check-{conversation_id}-")
    assert at >= datetime.now(UTC) + timedelta(seconds=25)


async def test_failures_api_lists_and_retries_deliveries_and_jobs(aiohttp_client, fake_backend, provider):
    client = await start_client(aiohttp_client, fake_backend, rules=live_rules())
    runtime = client.app[SERVICES]
    runtime.senders[Channel.SMS] = FakeProviderSender(provider.url)
    provider.failures.append((400, None))
    conversation_id, [message_id] = await conversation_with_replies(runtime, ["rejected"])
    await outbound.deliver_async(runtime, conversation_id, message_id)
    runtime.jobs.enqueue_now(defaults.SUPPORT, "json.loads", "not json", job_id="broken-job")
    await fake_backend.drain_async((defaults.SUPPORT,))

    response = await client.get("/api/failures", headers=admin_headers())
    assert response.status == 200
    listed = {f["id"]: f for f in (await response.json())["failures"]}
    assert set(listed) == {f"delivery:{message_id}", "job:support:broken-job"}
    assert "JSONDecodeError" in listed["job:support:broken-job"]["error"]
    assert (await client.get("/api/failures")).status == 401

    response = await client.post(f"/api/failures/delivery:{message_id}/retry", headers=admin_headers())
    assert response.status == 200
    assert (await runtime.store.message(conversation_id, message_id)).delivery == DeliveryStatus.QUEUED
    await outbound.deliver_async(runtime, conversation_id, message_id)
    assert provider.texts_by_conversation() == {conversation_id: ["rejected"]}

    response = await client.post("/api/failures/job:support:broken-job/retry", headers=admin_headers())
    assert response.status == 200
    assert "broken-job" in Queue(defaults.SUPPORT, connection=runtime.sync_redis).get_job_ids()
    assert (await client.post("/api/failures/job:support:nope/retry", headers=admin_headers())).status == 404
    assert (await client.get("/api/failures", headers=admin_headers())).status == 200
    remaining = (await (await client.get("/api/failures", headers=admin_headers())).json())["failures"]
    assert remaining == []
    audited = (await (await client.get("/api/audit?agent=admin", headers=admin_headers())).json())["entries"]
    assert [(e["action"], e["detail"]["failure"], e["conversation"]) for e in audited
            if e["action"] == "retry_failure"] == [("retry_failure", "job:support:broken-job", None),
                                                   ("retry_failure", f"delivery:{message_id}", conversation_id)]


async def test_sla_metrics_are_on_the_metrics_page(aiohttp_client, fake_backend):
    client = await start_client(aiohttp_client, fake_backend, rules=live_rules())
    from workers import metrics

    await metrics.record_fire(client.app[SERVICES].redis, "breach", "support", "first_response", 1.5)
    await metrics.count_escalation(client.app[SERVICES].redis, "sla")
    text = await (await client.get("/metrics")).text()
    assert 'gateway_sla_breaches_total{clock="first_response",queue="support"} 1.0' in text
    assert 'gateway_escalations_total{trigger="sla"} 1.0' in text
    assert 'gateway_sla_timer_lateness_seconds_bucket{le="2.0"} 1.0' in text
