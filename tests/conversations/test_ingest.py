"""Ingest, identity and the one-live-conversation rule, on fakeredis and on a real redis-server."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from conversations.messages import InboundMessage
from conversations.errors import Conflict
from conversations.keys import CustomerKeys
from conversations.models import Channel, Direction, Identity, Status
from conversations.service import ConversationService
from conversations.store import ConversationStore
from router.default import default_ruleset

ADA_SMS = Identity(Channel.SMS, "+15551230001")
ADA_EMAIL = Identity(Channel.EMAIL, "ada@example.com")
BOB_SMS = Identity(Channel.SMS, "+15551230002")
RULES = default_ruleset()  # everything to service, tier 1; both queues exist


class Clock:
    """A driven clock: tests move time instead of waiting for it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(backend, clock):
    redis = backend.async_client()
    yield ConversationService(ConversationStore(redis, reopen_window=timedelta(days=7)), lambda: RULES, clock=clock)
    await redis.aclose()


def sms(provider_id: str, text: str = "hello", identity: Identity = ADA_SMS) -> InboundMessage:
    return InboundMessage(Channel.SMS, identity, provider_id, text, datetime.now(UTC))


async def inbound_texts(service, conversation_id: str) -> list[str]:
    return [m.text for m in await service.store.messages(conversation_id) if m.direction == Direction.INBOUND]


async def test_concurrent_redelivery_stores_one_message(service):
    results = await asyncio.gather(*(service.ingest(sms("SM-1", "charged twice")) for _ in range(50)))
    assert sorted(r.outcome for r in results).count("opened") == 1
    assert {r.message_id for r in results} == {results[0].message_id}
    assert await inbound_texts(service, results[0].conversation_id) == ["charged twice"]


async def test_concurrent_first_messages_from_one_address_make_one_customer(service):
    results = await asyncio.gather(*(service.ingest(sms(f"SM-{n}", f"part {n}")) for n in range(20)))
    assert len({r.customer_id for r in results}) == 1
    assert len({r.conversation_id for r in results}) == 1
    assert sorted(await inbound_texts(service, results[0].conversation_id)) == sorted(f"part {n}" for n in range(20))


async def test_messages_keep_accepted_order(service):
    first = await service.ingest(sms("SM-1", "one"))
    for n, text in enumerate(["two", "three", "four"], start=2):
        await service.ingest(sms(f"SM-{n}", text))
    assert await inbound_texts(service, first.conversation_id) == ["one", "two", "three", "four"]


async def test_new_conversation_is_routed_once(service):
    first = await service.ingest(sms("SM-1"))
    await service.ingest(sms("SM-2"))
    conversation = await service.store.conversation(first.conversation_id)
    assert conversation.queue == "service" and conversation.tier == 1 and conversation.rule == "default"
    routed = [m for m in await service.store.messages(first.conversation_id) if m.kind == "routed"]
    assert len(routed) == 1


async def test_resolved_conversation_reopens_within_the_window(service, clock):
    first = await service.ingest(sms("SM-1"))
    await service.resolve(first.conversation_id, "grace")
    clock.advance(days=6)
    again = await service.ingest(sms("SM-2", "it broke again"))
    assert again.outcome == "reopened" and again.conversation_id == first.conversation_id
    conversation = await service.store.conversation(first.conversation_id)
    assert conversation.status == Status.OPEN and conversation.reopen_count == 1


async def test_after_the_window_a_new_conversation_starts_and_the_old_one_stays_history(service, clock):
    first = await service.ingest(sms("SM-1", "old question"))
    await service.resolve(first.conversation_id, "grace")
    clock.advance(days=8)
    again = await service.ingest(sms("SM-2", "new question"))
    assert again.outcome == "opened" and again.conversation_id != first.conversation_id
    history = await service.store.customer_conversation_ids(first.customer_id)
    assert history == [first.conversation_id, again.conversation_id]
    assert (await service.store.conversation(first.conversation_id)).status == Status.RESOLVED
    with pytest.raises(Conflict):
        await service.reopen(first.conversation_id, "grace")


async def test_reply_in_the_old_thread_reopens_it_past_the_window(service, clock):
    first = await service.ingest(sms("SM-1"))
    await service.resolve(first.conversation_id, "grace")
    clock.advance(days=30)
    hinted = InboundMessage(Channel.SMS, ADA_SMS, "SM-2", "about that", datetime.now(UTC),
                            meta={"thread_conversation": first.conversation_id})
    assert (await service.ingest(hinted)).outcome == "reopened"


async def test_customer_reply_after_agent_reply_moves_pending_back_to_open(service):
    first = await service.ingest(sms("SM-1"))
    await service.reply(first.conversation_id, "Could you send a screenshot?", "grace")
    assert (await service.store.conversation(first.conversation_id)).status == Status.PENDING
    await service.ingest(sms("SM-2", "here it is"))
    conversation = await service.store.conversation(first.conversation_id)
    assert conversation.status == Status.OPEN and conversation.first_response_at is not None


async def test_linking_an_identity_merges_customers_and_their_live_conversations(service, clock):
    by_sms = await service.ingest(sms("SM-1", "texting you"))
    clock.advance(minutes=1)
    by_email = await service.ingest(InboundMessage(Channel.EMAIL, ADA_EMAIL, "<m1@example.com>", "emailing you",
                                                   datetime.now(UTC)))
    assert by_sms.customer_id != by_email.customer_id

    customer = await service.link_identity(by_email.customer_id, ADA_SMS, author="admin")

    assert customer.id == by_sms.customer_id  # the older customer survives
    assert {i.key for i in customer.identities} == {ADA_SMS.key, ADA_EMAIL.key}
    assert await inbound_texts(service, by_sms.conversation_id) == ["texting you", "emailing you"]
    folded = await service.store.conversation(by_email.conversation_id)
    assert folded.status == Status.RESOLVED and folded.extra["merged_into_conversation"] == by_sms.conversation_id
    # Both addresses now reach the one live conversation.
    clock.advance(minutes=1)
    later = await service.ingest(InboundMessage(Channel.EMAIL, ADA_EMAIL, "<m2@example.com>", "still me",
                                                datetime.now(UTC)))
    assert later.conversation_id == by_sms.conversation_id and later.customer_id == by_sms.customer_id
    # A redelivery of the email stored before the merge is still recognised.
    redelivered = await service.ingest(InboundMessage(Channel.EMAIL, ADA_EMAIL, "<m1@example.com>",
                                                      "emailing you", datetime.now(UTC)))
    assert redelivered.duplicate
    # Replies can go out on either channel of the merged conversation.
    reply = await service.reply(by_sms.conversation_id, "Got both", "grace", channel=Channel.EMAIL)
    assert reply.meta["to"] == ADA_EMAIL.key


async def test_linking_a_new_identity_just_adds_it(service):
    first = await service.ingest(sms("SM-1"))
    customer = await service.link_identity(first.customer_id, ADA_EMAIL, author="admin")
    assert {i.key for i in customer.identities} == {ADA_SMS.key, ADA_EMAIL.key}
    second = await service.ingest(InboundMessage(Channel.EMAIL, ADA_EMAIL, "<m@x>", "hi", datetime.now(UTC)))
    assert second.conversation_id == first.conversation_id


async def test_customers_never_share_a_conversation(service):
    ada = await service.ingest(sms("SM-1", identity=ADA_SMS))
    bob = await service.ingest(sms("SM-1", identity=BOB_SMS))  # same provider id, other sender
    assert ada.customer_id != bob.customer_id and ada.conversation_id != bob.conversation_id
    assert not bob.duplicate


async def test_escalate_stops_at_the_last_tier(service):
    first = await service.ingest(sms("SM-1"))
    assert (await service.escalate(first.conversation_id, "grace", "needs an expert")).tier == 2
    assert (await service.escalate(first.conversation_id, "grace")).tier == 3
    with pytest.raises(Conflict):
        await service.escalate(first.conversation_id, "grace")


async def test_transfer_keeps_history_and_overrides_routing(service):
    first = await service.ingest(sms("SM-1", "refund please"))
    await service.escalate(first.conversation_id, "grace")
    moved = await service.transfer(first.conversation_id, "support", "grace", "it is a bug")
    assert moved.queue == "support" and moved.tier == 1 and moved.rule == "transfer by grace"
    assert await service.route(first.conversation_id) is None  # the agent's choice stands
    kinds = [m.kind for m in await service.store.messages(first.conversation_id) if m.direction == Direction.EVENT]
    assert kinds == ["routed", "escalated", "transferred"]


async def test_channel_facts_are_written_by_the_ingest_that_stores_the_message(service):
    """A channel's facts ride the message into the one ingest script: no second write of the hash after it."""
    opened = await service.ingest(sms("SM-f1", "first"))
    key = CustomerKeys(opened.customer_id).conversation(opened.conversation_id)
    redis = service.store.redis
    version = int(await redis.hget(key, "index_version"))

    with_facts = replace(sms("SM-f2", "second"), facts={"sms:our_number": "+15550001111"})
    appended = await service.ingest(with_facts)
    assert (appended.outcome, appended.conversation_id) == ("appended", opened.conversation_id)
    stored = await redis.hgetall(key)
    assert stored["sms:our_number"] == "+15550001111"
    # One write of the hash for the message and its facts: the version moved once (a second,
    # separate write of the facts after the ingest bumped it twice).
    assert int(stored["index_version"]) == version + 1
    assert await inbound_texts(service, opened.conversation_id) == ["first", "second"]

    # A redelivery with other facts is a duplicate: nothing changes, the facts included.
    again = await service.ingest(replace(with_facts, facts={"sms:our_number": "+15559999999"}))
    assert again.outcome == "duplicate"
    assert await redis.hgetall(key) == stored
