"""`gateway worker` told to stop: the job in progress finishes (RQ's warm stop), then the process exits 0."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime

from conversations.models import DeliveryStatus
from tests.gateway.proc import GatewayProcess
from tests.support import ROOT, wait_until
from tests.workers.processes import worker_env
from tests.workers.support import sms, write_rules
from tests.workers.test_crash import real_runtime


async def test_sigterm_lets_the_delivery_in_progress_finish(redis_url, provider):
    runtime = await real_runtime(redis_url)
    result = await runtime.service.ingest(sms("help", "in-1", datetime.now(UTC)))
    message = await runtime.service.reply(result.conversation_id, "On its way.", author="agent")

    provider.hold, provider.hold_at = asyncio.Event(), 1  # the provider call hangs until released
    env = worker_env(redis_url, write_rules(), FAKE_PROVIDER_URL=provider.url, GATEWAY_LOG_LEVEL="INFO")
    worker = GatewayProcess("worker", "--no-sweeper", env=env, cwd=ROOT, module="tests.workers.worker_main")
    try:
        await asyncio.wait_for(provider.held.wait(), timeout=90)
        worker.send(signal.SIGTERM)
        await wait_until(lambda: "warm shut down requested" in worker.output, timeout=30, what="the warm stop")
        assert worker.process.poll() is None  # waiting for its job, not gone
        provider.hold.set()
        code = await asyncio.to_thread(worker.wait, 60)
    finally:
        worker.close()
    assert code == 0 and "Traceback" not in worker.output
    assert [d["message_id"] for d in provider.delivered] == [message.id] and not provider.aborted
    [sent] = [m for m in await runtime.store.messages(result.conversation_id) if m.id == message.id]
    assert sent.delivery == DeliveryStatus.SENT
    await runtime.redis.aclose()
