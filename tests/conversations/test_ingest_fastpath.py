"""The ingest fast path on a real redis-server: identity cache, group commit, writes folded into one round trip.

What must still hold (docs/PERFORMANCE.md): a merge or a re-link lands every
message in the surviving customer; an erased customer is never recreated by a
web process that remembered its id; one message per provider id under
concurrent duplicates; a customer's messages in the order ingest was called;
an acknowledgement only for a stored message, even when Redis drops the
connections in the middle of a batch.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from conversations import keys
from conversations.erase import erase_customer
from conversations.errors import Erasing, NotReplicated, storage_unavailable
from conversations.ingest import IngestResult
from conversations.messages import InboundMessage
from conversations.models import Channel, Direction, Identity
from conversations.service import ConversationService
from conversations.store import ConversationStore, ReplicaAck
from router.default import default_ruleset

ADA_SMS = Identity(Channel.SMS, "+15551230001")
ADA_EMAIL = Identity(Channel.EMAIL, "ada@example.com")
RULES = default_ruleset()


@pytest.fixture
async def redis(redis_url):
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def make_service(redis: Redis, **store_options) -> ConversationService:
    return ConversationService(ConversationStore(redis, reopen_window=timedelta(days=7), **store_options),
                               lambda: RULES)


def message(provider_id: str, text: str = "hello", identity: Identity = ADA_SMS) -> InboundMessage:
    return InboundMessage(Channel.SMS if identity.channel == Channel.SMS else identity.channel, identity,
                          provider_id, text, datetime.now(UTC))


async def inbound_texts(service: ConversationService, conversation_id: str) -> list[str]:
    return [m.text for m in await service.store.messages(conversation_id) if m.direction == Direction.INBOUND]


async def test_a_known_sender_costs_two_round_trips_and_no_identity_read(redis):
    service = make_service(redis)
    first = await service.ingest(message("SM-1"))
    assert service.store._ingest.identities.get(ADA_SMS.key) == first.customer_id
    await redis.delete(keys.identity(ADA_SMS.key))  # the cache, not Redis, answers now
    second = await service.ingest(message("SM-2", "again"))
    assert second.customer_id == first.customer_id
    assert await inbound_texts(service, first.conversation_id) == ["hello", "again"]


async def test_merge_and_relink_land_every_message_in_the_survivor(redis):
    web_a, web_b = make_service(redis), make_service(redis)  # two web processes, each with its own cache
    sms_first = await web_a.ingest(message("SM-1", "sms one"))
    mail_first = await web_b.ingest(message("E-1", "mail one", ADA_EMAIL))
    await web_a.ingest(message("E-2", "mail two", ADA_EMAIL))  # both caches know both customers now
    await web_b.ingest(message("SM-2", "sms two"))
    assert sms_first.customer_id != mail_first.customer_id
    # An agent links the email address to the SMS customer: the older customer survives.
    merged = await web_a.link_identity(sms_first.customer_id, ADA_EMAIL, author="agent")
    survivor = merged.id
    assert survivor == sms_first.customer_id
    # Stale entries in both processes: every later message lands in the survivor.
    results = [await web.ingest(message(f"X-{n}-{identity.channel.value}", f"after {n}", identity))
               for n, web in enumerate((web_a, web_b)) for identity in (ADA_SMS, ADA_EMAIL)]
    assert {r.customer_id for r in results} == {survivor}
    live = await web_a.store.live_conversation_id(survivor)
    assert {r.conversation_id for r in results} == {live}
    assert web_b.store._ingest.identities.get(ADA_EMAIL.key) == survivor
    texts = await inbound_texts(web_a, live)
    assert all(f"after {n}" in texts for n in range(2))
    # Re-linked again (the survivor links the address once more): nothing moves, nothing is lost.
    await web_b.link_identity(survivor, ADA_EMAIL, author="agent")
    again = await web_b.ingest(message("E-9", "still here", ADA_EMAIL))
    assert (again.customer_id, again.conversation_id) == (survivor, live)


async def test_an_erased_customer_is_not_recreated_from_a_cached_id(redis):
    web_a, web_b = make_service(redis), make_service(redis)
    old = await web_a.ingest(message("SM-1", "please forget me"))
    await web_b.ingest(message("SM-2", "really"))
    assert web_b.store._ingest.identities.get(ADA_SMS.key) == old.customer_id
    await erase_customer(redis, old.customer_id)  # what DELETE /api/customers/{id} runs in the end
    new = await web_b.ingest(message("SM-3", "hello again"))
    assert new.customer_id != old.customer_id
    assert not await redis.exists(keys.CustomerKeys(old.customer_id).customer)
    assert await redis.get(keys.identity(ADA_SMS.key)) == new.customer_id
    assert await inbound_texts(web_b, new.conversation_id) == ["hello again"]
    assert web_b.store._ingest.identities.get(ADA_SMS.key) == new.customer_id


async def test_a_customer_being_erased_refuses_the_message_for_a_retry(redis):
    service = make_service(redis)
    old = await service.ingest(message("SM-1"))
    ck = keys.CustomerKeys(old.customer_id)
    await redis.hset(ck.customer, "erasing", "1")  # erase_customer's first step; it releases the identities next
    with pytest.raises(Erasing) as refused:
        await service.ingest(message("SM-2", "mid-erasure"))
    assert refused.value.status == 503  # the sender retries
    assert service.store._ingest.identities.get(ADA_SMS.key) is None
    assert "mid-erasure" not in await inbound_texts(service, old.conversation_id)


async def test_erasure_racing_ingest_never_resurrects_the_customer(redis):
    service = make_service(redis)
    old = await service.ingest(message("SM-0"))
    outcomes = await asyncio.gather(erase_customer(redis, old.customer_id),
                                    *(service.ingest(message(f"SM-{n}", f"m{n}")) for n in range(1, 30)),
                                    return_exceptions=True)
    for outcome in outcomes[1:]:
        if isinstance(outcome, BaseException):
            assert isinstance(outcome, Erasing)
            continue
        assert isinstance(outcome, IngestResult)
        if outcome.customer_id == old.customer_id:
            continue  # stored before the erasure began, and erased with the customer
        # Stored in the new customer, which the identity names.
        assert await redis.get(keys.identity(ADA_SMS.key)) == outcome.customer_id
    assert not await redis.exists(keys.CustomerKeys(old.customer_id).customer)
    assert not await redis.exists(keys.CustomerKeys(old.customer_id).conversations)


async def test_group_commit_keeps_one_message_per_provider_id_and_the_order(redis):
    service = make_service(redis)
    first = await service.ingest(message("SM-0", "m0"))
    # 20 distinct messages in order, each delivered 3 times at once, all from one customer.
    deliveries = [message(f"SM-{n}", f"m{n}") for n in range(1, 21) for _ in range(3)]
    results = await asyncio.gather(*(service.ingest(m) for m in deliveries))
    group = service.store._ingest.group
    assert group is not None and group.largest > 1  # they really shared pipelines
    by_provider: dict[str, set[str]] = {}
    for delivery, result in zip(deliveries, results, strict=True):
        by_provider.setdefault(delivery.provider_id, set()).add(result.message_id)
    assert all(len(ids) == 1 for ids in by_provider.values())
    assert await inbound_texts(service, first.conversation_id) == [f"m{n}" for n in range(21)]


async def test_every_acknowledged_message_is_stored_when_redis_drops_connections_mid_batch(redis, redis_url):
    service = make_service(redis)
    await service.ingest(message("SM-warm", "warm"))
    admin = Redis.from_url(redis_url, decode_responses=True)
    acked: list[tuple[str, IngestResult]] = []
    refused = 0

    async def send(n: int) -> None:
        nonlocal refused
        provider_id = f"SM-{n}"
        try:
            result = await service.ingest(message(provider_id, f"m{n}", Identity(Channel.SMS, f"+1555000{n % 7:04d}")))
        except Exception as error:
            assert storage_unavailable(error), error
            refused += 1
            return
        acked.append((provider_id, result))

    async def drop_connections() -> None:
        await admin.client_kill_filter(_type="normal", skipme=True)

    # Waves of 30 concurrent messages; every other wave has its connections dropped while in flight.
    for wave in range(10):
        sends = [send(n) for n in range(wave * 30, wave * 30 + 30)]
        await asyncio.gather(*([drop_connections()] if wave % 2 == 0 else []), *sends)
    await admin.aclose()
    assert acked, "nothing was acknowledged"
    for provider_id, result in acked:
        texts = await inbound_texts(service, result.conversation_id)
        assert f"m{provider_id[3:]}" in texts  # every acknowledged message is there, once
        assert texts.count(f"m{provider_id[3:]}") == 1


async def test_without_the_replicas_asked_for_a_batch_is_refused_but_stored_once(redis):
    # No replica exists: every WAIT of the shared batch answers 0, so no message is acknowledged.
    service = make_service(redis, replica_ack=ReplicaAck(replicas=1, timeout_ms=10))
    outcomes = await asyncio.gather(*(service.ingest(message(f"SM-{n}", f"m{n}")) for n in range(10)),
                                    return_exceptions=True)
    assert all(isinstance(outcome, NotReplicated) for outcome in outcomes)
    plain = make_service(redis)
    retried = await plain.ingest(message("SM-3", "m3"))  # the sender's retry: stored already, once
    assert retried.duplicate
    assert sorted(await inbound_texts(plain, retried.conversation_id)) == sorted(f"m{n}" for n in range(10))
