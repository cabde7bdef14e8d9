"""Redis memory before and after the retention sweep archives N resolved conversations.

A few hundred template conversations go through the real path (three customer
SMS, an agent reply delivered by the real ``outbound`` job to the Twilio fake,
resolve); each is then copied key for key (``DUMP``/``RESTORE``, ids rewritten)
until there are N resolved conversations, each of its own customer, plus a
live backlog of open ones that must stay. Then ``used_memory`` is read, the
sweeper's ``archive_resolved`` runs with its clock past
``GATEWAY_RETENTION__RESOLVED_DAYS``, and memory is read again. What remains is
the live backlog, the customers (a person outlives their resolved
conversations), the report rows and one small pointer per archived
conversation; the archive objects go to the attachment store (their size is
printed too).

    python -m benchmarks.archive [--conversations 100000] [--open 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from rq import Queue

from benchmarks import harness
from benchmarks.fakes import ServedFake
from benchmarks.harness import Result
from conversations import ids, keys
from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.runtime import build_services, load_live_rules, services_factory
from router.default import DEFAULT_RULES_YAML
from tests.sms.fake_twilio import FakeTwilio
from tests.support import settings_for, write_rules
from workers import context, defaults
from workers.embedded import ThreadWorker
from workers.sweeper import Sweeper

TEMPLATES = 200
DAYS = 30


def _drain(connection: SyncRedis) -> None:
    worker = ThreadWorker([Queue(name, connection=connection) for name in defaults.JOB_QUEUES],
                          connection=connection)
    worker.work(burst=True, with_scheduler=False, logging_level="WARNING")


def _used(client: SyncRedis) -> int:
    return int(client.info("memory")["used_memory"])


async def _conversation(services, number: str, texts: list[str], *, resolve: bool) -> str:
    conversation_id = ""
    for n, text in enumerate(texts):
        message = InboundMessage(channel=Channel.SMS, identity=Identity(Channel.SMS, number),
                                 provider_id=f"SM{number[1:]}{n:020d}", text=text, received_at=datetime.now(UTC),
                                 meta={"to": harness.OUR_NUMBER}, facts={"sms:our_number": harness.OUR_NUMBER})
        conversation_id = (await services.service.ingest(message)).conversation_id
    await services.service.reply(conversation_id, "Thanks, we refunded the second charge.", "agent")
    if resolve:
        await services.service.resolve(conversation_id, "agent")
    return conversation_id


def _clone(sync: SyncRedis, template_customer: str, template_conversation: str, copies: range) -> None:
    """``copies`` resolved conversations like the template's, each with its own customer, id-rewritten."""
    tck = keys.CustomerKeys(template_customer)
    names = {"customer": tck.customer, "conv": tck.conversation(template_conversation),
             "msgs": tck.messages(template_conversation), "delivery": tck.delivery(template_conversation),
             "seen_at": tck.seen_at}
    dumps = {role: sync.dump(name) for role, name in names.items()}
    seen = {field: value.decode().partition(" ")[2] for field, value in sync.hgetall(tck.seen).items()}
    state = sync.hget(keys.INDEX_STATE, template_conversation)
    version, _, bucket = (state or b"").decode().partition("|")
    activity = keys.index_set("activity", bucket)
    score = sync.zscore(activity, template_conversation) or 0
    pipe = sync.pipeline(transaction=False)
    for n in copies:
        customer_id, conversation_id = ids.customer_id(), ids.conversation_id()
        ck = keys.CustomerKeys(customer_id)
        number = f"+1628{n:07d}"
        pipe.restore(ck.customer, 0, dumps["customer"])
        pipe.hset(ck.customer, mapping={"id": customer_id, "live": conversation_id})
        pipe.restore(ck.conversation(conversation_id), 0, dumps["conv"])
        pipe.hset(ck.conversation(conversation_id), mapping={"id": conversation_id, "customer_id": customer_id})
        pipe.restore(ck.messages(conversation_id), 0, dumps["msgs"])
        pipe.restore(ck.delivery(conversation_id), 0, dumps["delivery"])
        pipe.restore(ck.seen_at, 0, dumps["seen_at"])
        # Dedupe markers name their conversation: the copy's, so archiving drops them as it would a real one's.
        pipe.hset(ck.seen, mapping={field: f"{conversation_id} {message}" for field, message in seen.items()})
        pipe.sadd(ck.identities, f"sms:{number}")
        pipe.rpush(ck.conversations, conversation_id)
        pipe.set(keys.identity(f"sms:{number}"), customer_id)
        pipe.set(keys.conversation_locator(conversation_id), customer_id)
        pipe.zadd(activity, {conversation_id: score})
        pipe.hset(keys.INDEX_STATE, conversation_id, f"{version}|{bucket}")
        pipe.zadd(keys.SEARCH_TERMS, {f"{number.casefold()}\x00{customer_id}": 0, f"{number[1:]}\x00{customer_id}": 0})
        if len(pipe) >= 5000:
            pipe.execute()
    pipe.execute()


async def fill(redis_url: str, twilio_url: str, files: Path, resolved: int, live: int):
    settings = settings_for(write_rules(DEFAULT_RULES_YAML), redis_url=redis_url, public_url=harness.PUBLIC_URL,
                            attachments={"dir": str(files)}, retention={"resolved_days": DAYS},
                            twilio={"account_sid": harness.TWILIO_ACCOUNT, "auth_token": harness.TWILIO_TOKEN,
                                    "from_number": harness.OUR_NUMBER, "api_base_url": twilio_url})
    rules = load_live_rules(settings)
    context.install(services_factory(settings, rules))
    redis = Redis.from_url(redis_url, decode_responses=True)
    sync = SyncRedis.from_url(redis_url)
    services = build_services(settings, redis, sync, rules)
    texts = ["Hello, I was charged twice for order 12345", "The second charge is 49.90 EUR on my card",
             "Can you refund it please?"]
    templates = min(TEMPLATES, resolved)
    made = [await _conversation(services, f"+1415{3000000 + n:07d}", texts, resolve=True) for n in range(templates)]
    for n in range(live):
        await _conversation(services, f"+1415{5000000 + n:07d}", texts, resolve=False)
    await asyncio.to_thread(_drain, sync)
    started = time.monotonic()
    per = (resolved - templates) // templates if templates else 0
    extra = (resolved - templates) % templates if templates else 0
    start = 0
    for n, conversation_id in enumerate(made):
        count = per + (1 if n < extra else 0)
        customer_id = (await services.store.conversation(conversation_id)).customer_id
        await asyncio.to_thread(_clone, sync, customer_id, conversation_id, range(start, start + count))
        start += count
    print(f"archive: copied {resolved - templates:,} conversations in {time.monotonic() - started:.0f} s", flush=True)
    return services, redis, sync


async def run(conversations: int = 100_000, live: int = 1000) -> Result:
    result = Result("archive", goal="Redis memory after archiving tracks the live backlog")
    print(f"archive: {conversations:,} resolved SMS conversations (3 in, 1 reply delivered), {live:,} open ones",
          flush=True)
    with harness.redis_server() as server, ServedFake(FakeTwilio().app()) as twilio, \
            tempfile.TemporaryDirectory(prefix="gateway-archive-") as files:
        services, redis, sync = await fill(server.url, twilio.url, Path(files), conversations, live)
        try:
            sync.execute_command("MEMORY", "PURGE")
            before = _used(sync)
            later = datetime.now(UTC) + timedelta(days=DAYS + 1)
            started = time.monotonic()
            moved = await Sweeper(services, clock=lambda: later).archive_resolved()
            seconds = time.monotonic() - started
            sync.execute_command("MEMORY", "PURGE")
            after = _used(sync)
            keys_left = sync.dbsize()
        finally:
            await services.close()
            await redis.aclose()
            context.install(None)
        stored = sum(p.stat().st_size for p in Path(files).rglob("att_archive_*") if p.suffix != ".json")
    result.add("resolved conversations archived", f"{moved:,} of {conversations:,} in {seconds:.0f} s "
                                                  f"({moved / max(seconds, 0.001):,.0f}/s)")
    result.add("Redis used_memory before", f"{before / 2**20:,.1f} MiB")
    result.add("Redis used_memory after", f"{after / 2**20:,.1f} MiB ({keys_left:,} keys left)")
    result.add("archive objects (gzip JSON lines)", f"{stored / 2**20:,.1f} MiB, "
                                                    f"{stored / max(moved, 1):,.0f} B per conversation")
    result.ratio = after / before if before else None
    result.met = moved == conversations and after < before
    result.data = {"before": before, "after": after, "moved": moved, "archive_bytes": stored}
    result.notes.append("ratio = memory after / before (lower is better); customers, report rows and the "
                        f"{live:,} open conversations stay in Redis")
    result.show()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--open", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.conversations, args.open))


if __name__ == "__main__":
    main()
