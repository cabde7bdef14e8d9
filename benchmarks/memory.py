"""Redis bytes per 10-message SMS conversation, by key family, after the jobs finished.

Each conversation: 9 customer SMS through the real ingest path, then one
agent reply delivered by the real ``outbound`` job (RQ worker, burst) to the
test suite's Twilio fake. Then every key is measured with ``MEMORY USAGE``
(all samples) on a real redis-server and grouped by family; keys shared by
all conversations (the index, the timers' dirty set, RQ's registries) are
divided among them. The baseline is the bytes the content itself takes: ids,
texts and timestamps with no structure around them.

    python -m benchmarks.memory [--conversations 200]
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections import defaultdict
from datetime import UTC, datetime

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Queue

from benchmarks import harness
from benchmarks.fakes import ServedFake
from benchmarks.harness import Result
from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.runtime import build_services, load_live_rules, services_factory
from router.default import DEFAULT_RULES_YAML
from tests.sms.fake_twilio import FakeTwilio
from tests.support import settings_for, write_rules
from workers import context, defaults
from workers.embedded import ThreadWorker

GOAL_BYTES = 2500
FAMILIES = [
    (re.compile(r"\{c:[^}]+\}"), "{c:C}"),
    (re.compile(r"(cnv|msg|cus)_[0-9a-z]{22}"), "<id>"),
    (re.compile(r"\+\d{6,}"), "<phone>"),
    (re.compile(r"^rq:job:.*"), "rq:job:<id>"),
    (re.compile(r"^rq:results:.*"), "rq:results:<id>"),
    (re.compile(r"SM[0-9a-f]{32}"), "<sid>"),
    (re.compile(r"(deliver-)?<id>"), "<id>"),
]


def family(key: str) -> str:
    for pattern, replacement in FAMILIES:
        key = pattern.sub(replacement, key)
    return key


def sizes(client: SyncRedis) -> dict[str, tuple[int, int]]:
    """Family → (keys, bytes)."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key in client.scan_iter(count=1000):
        name = key.decode() if isinstance(key, bytes) else key
        usage = client.memory_usage(key, samples=0) or 0
        entry = found[family(name)]
        entry[0] += 1
        entry[1] += usage
    return {k: (v[0], v[1]) for k, v in found.items()}


async def fill(redis_url: str, twilio_url: str, conversations: int) -> int:
    """Ingest and reply; returns the bytes of content (ids, texts, times) the conversations hold."""
    settings = settings_for(write_rules(DEFAULT_RULES_YAML), redis_url=redis_url,
                            public_url=harness.PUBLIC_URL,
                            twilio={"account_sid": harness.TWILIO_ACCOUNT, "auth_token": harness.TWILIO_TOKEN,
                                    "from_number": harness.OUR_NUMBER, "api_base_url": twilio_url})
    rules = load_live_rules(settings)
    context.install(services_factory(settings, rules))
    redis = Redis.from_url(redis_url, decode_responses=True)
    sync = SyncRedis.from_url(redis_url)
    services = build_services(settings, redis, sync, rules)
    content = 0
    try:
        for c in range(conversations):
            number = f"+1415{2000000 + c:07d}"
            conversation_id = ""
            for n in range(9):
                text = f"Hello, this is message {n} about my order 12{c:04d}"
                message = InboundMessage(channel=Channel.SMS, identity=Identity(Channel.SMS, number),
                                         provider_id=f"SM{c:06d}{n:026d}", text=text,
                                         received_at=datetime.now(UTC), meta={"to": harness.OUR_NUMBER},
                                         facts={"sms:our_number": harness.OUR_NUMBER})
                result = await services.service.ingest(message)
                conversation_id = result.conversation_id
                content += len(text) + 26 + 34 + 13  # text, message id, provider id, time
            reply = "Thanks, we refunded the second charge."
            await services.service.reply(conversation_id, reply, "agent")
            content += len(reply) + 26 + 13 + 34
            content += 26 + 26 + len(number)  # conversation id, customer id, the number
        await asyncio.to_thread(_drain, sync)
    finally:
        await services.close()
        await redis.aclose()
        context.install(None)
    return content


def _drain(connection: SyncRedis) -> None:
    worker = ThreadWorker([Queue(name, connection=connection) for name in defaults.JOB_QUEUES],
                          connection=connection)
    worker.work(burst=True, with_scheduler=False, logging_level="WARNING")


async def run(conversations: int = 200) -> Result:
    result = Result("memory", goal=f"<= {GOAL_BYTES:,} B per 10-message conversation with jobs done")
    print(f"memory: {conversations} SMS conversations of 10 messages (9 in, 1 agent reply delivered)", flush=True)
    with harness.redis_server() as server, ServedFake(FakeTwilio().app()) as twilio:
        content = await fill(server.url, twilio.url, conversations)
        client = SyncRedis.from_url(server.url)
        by_family = sizes(client)
        delivered = sum(1 for a in twilio.arrivals if a.path.endswith("/Messages.json"))
    total = sum(b for _, b in by_family.values())
    per = total / conversations
    baseline = content / conversations
    result.add("content only (ids, texts, times)", f"{baseline:,.0f} B per conversation")
    result.add("gateway, all keys", f"{per:,.0f} B per conversation ({delivered} replies delivered)")
    for name, (count, size) in sorted(by_family.items(), key=lambda item: -item[1][1]):
        result.add(f"  {name} ({count} keys)", f"{size / conversations:,.0f} B")
    result.ratio = baseline / per
    result.met = per <= GOAL_BYTES
    result.data = {"per_conversation": per, "families": {k: v[1] / conversations for k, v in by_family.items()}}
    result.notes.append("ratio = content bytes / bytes stored (higher is leaner)")
    result.show()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.conversations))


if __name__ == "__main__":
    main()
