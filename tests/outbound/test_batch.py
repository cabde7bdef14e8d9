"""Batch proactive messages: accepted with a job id, run by real RQ workers, paced per channel, each once."""

from __future__ import annotations

import json
import time

import fakeredis
import pytest
from rq.registry import ScheduledJobRegistry

from conversations.models import Channel
from tests.conftest import Backend, admin_headers, start_client
from tests.outbound.conftest import rule_files
from tests.sms.conftest import fake_twilio, inbound_form, post_signed, sms_settings  # noqa: F401  (a fixture)
from tests.support import redis_snapshot, wait_until
from workers import context, proactive
from workers.pacing import take_slot
from workers.proactive_settings import ProactiveSettings

NUMBERS = ["+14155550101", "+14155550102", "+14155550103"]


@pytest.fixture
async def gateway(aiohttp_client, fake_twilio, tmp_path):
    settings = sms_settings(fake_twilio, **rule_files(tmp_path)).model_copy(
        update={"proactive": ProactiveSettings(sms_per_second=1000.0, max_batch=5)})
    backend = Backend(settings, fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    yield client
    context.install(None)


async def batch_status(client, job_id: str) -> dict:
    response = await client.get(f"/api/outbound/batch/{job_id}", headers=admin_headers())
    assert response.status == 200
    return await response.json()


async def submit(client, recipients: list[dict], **body) -> dict:
    response = await client.post("/api/outbound/batch", headers=admin_headers(), json={
        "template": "outage", "variables": {"service": "Checkout"}, "recipients": recipients, **body})
    assert response.status == 202, await response.text()
    return await response.json()


async def test_a_notice_reaches_every_recipient_once_and_refusals_are_listed(gateway, fake_twilio):
    stop = inbound_form(sid="SM" + "9" * 32, sender=NUMBERS[2], body="STOP")
    assert (await post_signed(gateway, "/sms/twilio", stop)).status == 200
    recipients = [{"identity": {"channel": "sms", "address": n}} for n in NUMBERS]
    recipients[1]["variables"] = {"until": "6 pm"}
    recipients.append({"customer_id": "cus_nobody"})
    accepted = await submit(gateway, recipients)
    assert accepted["recipients"] == 4 and accepted["status_url"] == f"/api/outbound/batch/{accepted['job_id']}"
    assert (await batch_status(gateway, accepted["job_id"]))["status"] == "queued"

    await gateway.backend.drain_async()
    status = await wait_until(lambda: _done(gateway, accepted["job_id"]), what="the batch to finish")
    assert (status["total"], status["sent"], status["refused"], status["unknown"], status["pending"]) == (4, 2, 2, 0, 0)
    results = status["results"]
    assert [r["status"] for r in results] == ["sent", "sent", "refused", "refused"]
    assert "opted out of SMS" in results[2]["error"] and "no customer cus_nobody" in results[3]["error"]
    assert sorted((f["To"], f["Body"]) for f in fake_twilio.sent) == [
        (NUMBERS[0], "Checkout is down; we expect it back by later today. No need to reply."),
        (NUMBERS[1], "Checkout is down; we expect it back by 6 pm. No need to reply."),
    ]
    assert results[0]["conversation_id"] != results[1]["conversation_id"]

    await gateway.backend.drain_async()  # nothing runs twice
    assert len(fake_twilio.sent) == 2


async def test_a_recipient_claimed_by_a_job_that_died_is_never_sent_twice(gateway, fake_twilio):
    accepted = await submit(gateway, [{"identity": {"channel": "sms", "address": n}} for n in NUMBERS[:2]])
    redis = gateway.backend.sync_client()
    redis.hset(proactive.results_key(accepted["job_id"]), "0", json.dumps({"status": "sending"}))
    await gateway.backend.drain_async()
    status = await wait_until(lambda: _done(gateway, accepted["job_id"]), what="the batch to finish")
    assert [r["status"] for r in status["results"]] == ["unknown", "sent"]
    assert "may or may not have been sent" in status["results"][0]["error"]
    assert [f["To"] for f in fake_twilio.sent] == [NUMBERS[1]]


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({"recipients": [{"identity": {"channel": "sms", "address": "+14155550101"}}] * 6}, 400, "at most 5"),
    ({"recipients": []}, 400, "recipients"),
    ({"recipients": [{"identity": {"channel": "sms", "address": "nope"}}]}, 400, "not a phone number"),
    ({"recipients": [{"customer_id": "c"}], "template": "nope"}, 404, "no template"),
    ({"recipients": [{"customer_id": "c"}], "queue": "sales"}, 400, "unknown queue"),
])
async def test_a_bad_batch_is_refused_whole_and_nothing_is_stored(gateway, body, status, reason):
    before = redis_snapshot(gateway.backend.sync_client())
    response = await gateway.post("/api/outbound/batch", headers=admin_headers(),
                                  json={"template": "outage", "variables": {"service": "Checkout"}, **body})
    assert response.status == status, await response.text()
    assert reason in await response.text()
    assert redis_snapshot(gateway.backend.sync_client()) == before


async def test_an_unknown_batch_is_404(gateway):
    response = await gateway.get("/api/outbound/batch/ob_nope", headers=admin_headers())
    assert response.status == 404


async def test_the_pace_is_shared_and_a_slot_too_far_away_is_not_taken():
    redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    now = 1_000_000
    # 2 a second: slots every 500 ms, whoever asks.
    assert await take_slot(redis, Channel.SMS, 2, now, 1000) == 0
    assert await take_slot(redis, Channel.SMS, 2, now, 1000) == 500
    assert await take_slot(redis, Channel.SMS, 2, now + 100, 1000) == 900
    # The next slot is 1,500 ms away: not taken, and the answer says when it frees up.
    assert await take_slot(redis, Channel.SMS, 2, now, 1000) == -1500 - 1
    assert await take_slot(redis, Channel.EMAIL, 2, now, 1000) == 0  # each channel has its own pace
    assert await take_slot(redis, Channel.SMS, 2, now + 2000, 1000) == 0  # idle time is not saved up
    await redis.aclose()


async def _done(client, job_id: str):
    status = await batch_status(client, job_id)
    return status if status["status"] == "done" else None


async def test_a_batch_keeps_the_channels_pace_and_hands_over_instead_of_holding_a_worker(aiohttp_client,
                                                                                         fake_twilio, tmp_path):
    settings = sms_settings(fake_twilio, **rule_files(tmp_path)).model_copy(
        update={"proactive": ProactiveSettings(sms_per_second=0.5)})
    backend = Backend(settings, fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    try:
        numbers = [f"+1415555011{i}" for i in range(2)]
        accepted = await submit(client, [{"identity": {"channel": "sms", "address": n}} for n in numbers])
        started = time.monotonic()
        await backend.drain_async()  # one run: a slot now; the next is 2 s away, more than a run waits
        first_run = await batch_status(client, accepted["job_id"])
        assert (first_run["sent"], first_run["pending"]) == (1, 1)
        assert len(ScheduledJobRegistry("outbound", connection=backend.sync_client())) == 1

        async def finished():
            await backend.drain_async()  # the scheduled run, once it is due
            return await _done(client, accepted["job_id"])

        status = await wait_until(finished, timeout=10, what="the handed-over run to finish the batch")
        elapsed = time.monotonic() - started
        assert status["sent"] == 2 and len(fake_twilio.sent) == 2
        assert elapsed >= 1.9  # one message every 2 s (0.5 a second), whichever run sends it
    finally:
        context.install(None)


async def test_a_batch_retried_with_the_same_idempotency_key_is_accepted_once(gateway):
    body = {"template": "outage", "variables": {"service": "Checkout"},
            "recipients": [{"identity": {"channel": "sms", "address": NUMBERS[0]}}]}
    headers = {**admin_headers(), "Idempotency-Key": "outage-2026-12-03"}
    first = await gateway.post("/api/outbound/batch", json=body, headers=headers)
    again = await gateway.post("/api/outbound/batch", json=body, headers=headers)
    assert (first.status, again.status) == (202, 202)
    assert (await first.json())["job_id"] == (await again.json())["job_id"]


async def test_a_batch_takes_up_to_1000_recipients_by_default(aiohttp_client, fake_twilio, tmp_path):
    assert ProactiveSettings().max_batch == 1000
    backend = Backend(sms_settings(fake_twilio, **rule_files(tmp_path)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    try:
        recipients = [{"identity": {"channel": "sms", "address": f"+1415556{n:04d}"}} for n in range(1001)]
        too_many = await client.post("/api/outbound/batch", headers=admin_headers(), json={
            "template": "outage", "variables": {"service": "Checkout"}, "recipients": recipients})
        assert too_many.status == 400 and "at most 1000" in await too_many.text()
        accepted = await submit(client, recipients[:1000])
        assert accepted["recipients"] == 1000
        assert (await batch_status(client, accepted["job_id"]))["total"] == 1000
    finally:
        context.install(None)
