"""kill -9 of real worker processes on a real redis-server: nothing lost, nothing done twice.

The worker host is ``gateway worker`` (RQ's forking worker plus its sweeper
child) in its own process group; SIGKILL to the group is a crashed machine.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from conversations import keys as core_keys
from conversations.models import DeliveryStatus
from gateway.runtime import build_services
from tests.conftest import make_settings
from tests.support import wait_until
from tests.workers.processes import WorkerHost, worker_env
from tests.workers.support import RULES_YAML, live_rules, sms, write_rules
from workers import keys, timers

CONVERSATIONS = 25
REPLIES_EACH = 20  # 500 replies in all

# Two-second first response so the test sees real timers fire; one step, no restart, so each
# conversation escalates exactly once and then stays at tier 2.
FAST_RULES = RULES_YAML.replace("first_response: 1m", "first_response: 2s").replace(
    "- {from_tier: 1, to_tier: 2, on: [first_response.breach, agent], restart: [first_response]}",
    "- {from_tier: 1, to_tier: 2, on: [first_response.breach, agent], restart: []}").replace(
    "- {from_tier: 2, to_tier: 3, on: [first_response.breach, agent], priority: high, restart: [first_response]}",
    "- {from_tier: 2, to_tier: 3, on: [agent]}")


async def real_runtime(redis_url: str, rules_text: str = RULES_YAML):
    redis = Redis.from_url(redis_url, decode_responses=True)
    runtime = build_services(make_settings(redis_url=redis_url), redis, SyncRedis.from_url(redis_url),
                             live_rules(rules_text))
    return runtime


async def test_kill_9_during_a_burst_of_500_replies_delivers_all_once_in_order(redis_url, provider):
    runtime = await real_runtime(redis_url)
    expected: dict[str, list[str]] = {}
    for n in range(CONVERSATIONS):
        result = await runtime.service.ingest(sms(f"help {n}", f"in-{n}", datetime.now(UTC), f"+1555000{n:04d}"))
        expected[result.conversation_id] = []
    for i in range(REPLIES_EACH):  # interleaved, as agents in many conversations type at once
        for conversation_id in expected:
            text = f"reply {i} to {conversation_id}"
            await runtime.service.reply(conversation_id, text, author="agent")
            expected[conversation_id].append(text)

    provider.hold, provider.hold_at = asyncio.Event(), 150  # the 150th call hangs: kill the worker there
    env = worker_env(redis_url, write_rules(), FAKE_PROVIDER_URL=provider.url)
    started = time.monotonic()
    host = WorkerHost(env, "tests.workers.worker_main")
    try:
        await asyncio.wait_for(provider.held.wait(), timeout=60)
        host.kill()
        killed_after = len(provider.delivered)
        provider.hold.set()  # the provider notices its client is gone
        # The provider accepted the call its client died waiting on: the message went out, but the
        # gateway never heard, so its "sent" mark was not written.
        await wait_until(lambda: provider.held_key in {d["key"] for d in provider.delivered}, timeout=10,
                         what="the provider to finish the call")
        host = WorkerHost(env, "tests.workers.worker_main")
        await wait_until(lambda: len(provider.delivered) >= CONVERSATIONS * REPLIES_EACH, timeout=60,
                         what="all 500 replies delivered after the restart")
    finally:
        host.stop()
    elapsed = time.monotonic() - started
    keys = [item["key"] for item in provider.delivered]
    assert len(keys) == len(set(keys)) == CONVERSATIONS * REPLIES_EACH  # each message delivered once
    # The one call in flight at the kill was sent again (at-least-once to the provider); its
    # idempotency key (the message id) made the provider answer without a second delivery.
    assert provider.replayed == [provider.held_key]
    assert provider.texts_by_conversation() == expected  # in accepted order, per conversation
    assert 0 < killed_after < CONVERSATIONS * REPLIES_EACH
    for conversation_id in expected:
        states = {m.delivery for m in await runtime.store.messages(conversation_id) if m.delivery}
        assert states == {DeliveryStatus.SENT}
    print(f"\n500 replies, kill -9 after {killed_after} delivered: all delivered once in {elapsed:.1f}s")
    await runtime.close()
    await runtime.redis.aclose()


async def test_kill_9_during_a_burst_of_escalations_escalates_each_conversation_once(redis_url):
    rules_path = write_rules(FAST_RULES)
    runtime = await real_runtime(redis_url, FAST_RULES)
    count = 300
    spacing = timedelta(milliseconds=20)
    ids: list[str] = []
    conversation_keys: list[str] = []

    async def open_conversations(opened_from: datetime) -> None:
        # The conversations open 20 ms apart on the service's clock, so their first-response
        # breaches (2 s) fall due one after another over count * spacing = 6 s: however fast the
        # workers are, the burst cannot be over before the last deadline.
        for n in range(count):
            runtime.service.clock = lambda at=opened_from + n * spacing: at
            result = await runtime.service.ingest(sms(f"it crashes {n}", f"esc-{n}", datetime.now(UTC),
                                                      f"+1556000{n:04d}"))
            ids.append(result.conversation_id)
            conversation_keys.append(await _conversation_key(runtime, result.conversation_id))

    async def count_fields(field: str, value: str | None = None) -> int:
        async with runtime.redis.pipeline(transaction=False) as pipe:
            for key in conversation_keys:
                pipe.hget(key, field)
            found = await pipe.execute()
        return sum((item == value) if value is not None else bool(item) for item in found)

    async def escalated() -> int:
        return await count_fields("tier", "2")

    env = worker_env(redis_url, rules_path)
    started = time.monotonic()
    opening: asyncio.Task | None = None
    host = WorkerHost(env)
    try:
        await wait_until(lambda: runtime.redis.exists(keys.SWEEPER_LEADER), timeout=30, what="the sweeper to run")
        opened_from = datetime.now(UTC)
        last_due = opened_from + (count - 1) * spacing + timedelta(seconds=2)
        opening = asyncio.create_task(open_conversations(opened_from))
        # Kill as soon as the first escalations are seen (while the rest are still opening or not
        # yet due), so the kill lands mid-burst whatever the speed of this machine.
        await wait_until(lambda: _at_least(escalated, 1), timeout=60, interval=0.005,
                         what="escalations to start")
        host.kill()
        killed_at = datetime.now(UTC)
        done_at_kill = await escalated()  # nothing escalates while no worker runs
        await opening
        in_flight = await count_fields("escalation_pending")  # breached, escalation not carried out yet
        host = WorkerHost(env)
        await wait_until(lambda: _at_least(escalated, count), timeout=60, what="every conversation escalated")
        # Quiet: nothing left due or claimed, so nothing can fire again.
        await wait_until(lambda: _no_timers_due(runtime), timeout=30, what="the sweeper to finish")
    finally:
        host.stop()
        if opening is not None and not opening.done():
            opening.cancel()
    before_last = (last_due - killed_at).total_seconds()
    # The kill landed mid-burst: some conversations were escalated, others not yet.
    assert 0 < done_at_kill < count, (done_at_kill, f"killed {before_last:.1f}s before the last deadline")
    assert len(ids) == count
    for cid in ids:
        kinds = [m.kind for m in await runtime.store.messages(cid) if m.kind]
        assert kinds.count("escalated") == 1 and kinds.count("sla_breach") == 1, (cid, kinds)
        assert (await runtime.store.conversation(cid)).tier == 2
    elapsed = time.monotonic() - started
    print(f"\n{count} escalations in {elapsed:.1f}s, kill -9 after {done_at_kill} "
          f"({in_flight} half done, {before_last:.1f}s before the last deadline): each exactly once")
    await runtime.close()
    await runtime.redis.aclose()


async def _at_least(counter, target: int) -> bool:
    return await counter() >= target


async def _conversation_key(runtime, conversation_id: str) -> str:
    return core_keys.CustomerKeys(await runtime.store.locate(conversation_id)).conversation(conversation_id)


async def _no_timers_due(runtime) -> bool:
    now_ms = int(time.time() * 1000) + 15_000  # past any lease a killed sweeper left behind
    return await runtime.redis.zcount(keys.TIMERS, "-inf", now_ms) == 0
