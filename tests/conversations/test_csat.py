"""CSAT in the core: asked once on resolve, a 1-5 reply within the window rates without reopening.

On fakeredis and on a real redis-server (the ingest script decides), with a driven clock.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from conversations.events import ConversationEvent, EventKind
from conversations.messages import InboundMessage
from conversations.models import Channel, Direction, Identity, Status
from conversations.csat import question_text
from conversations.ratings import SCALE, Rating, parse_rating
from conversations.service import ConversationService
from conversations.store import ConversationStore
from router.loader import load_rules_text
from tests.conversations.test_ingest import Clock

RULES = load_rules_text("""\
queues:
  support:
    csat: {ask_on_resolve: true, question: "How did we do?", window: 3d}
  quiet: {}
  silent:
    sla_policy: nosurvey
    csat: {question: "Never asked: the policy turns it off"}
sla_policies:
  nosurvey:
    first_response: 1h
    csat: {ask_on_resolve: false, question: "unused"}
default:
  queue: support
""")
ADA = Identity(Channel.SMS, "+15551230001")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(backend, clock):
    redis = backend.async_client()
    service = ConversationService(ConversationStore(redis, reopen_window=timedelta(days=7)), lambda: RULES,
                                  clock=clock)
    service.seen = []  # type: ignore[attr-defined]

    async def record(event: ConversationEvent) -> None:
        service.seen.append(event)  # type: ignore[attr-defined]

    service.events.subscribe(record)
    yield service
    await redis.aclose()


_ids = iter(range(1, 10_000))


def sms(text: str, *, automatic: bool = False, identity: Identity = ADA) -> InboundMessage:
    return InboundMessage(Channel.SMS, identity, f"SM-{next(_ids)}", text, datetime.now(UTC), automatic=automatic)


async def resolved_conversation(service, text: str = "my order is late") -> str:
    result = await service.ingest(sms(text))
    await service.reply(result.conversation_id, "It ships today.", author="Grace")
    await service.resolve(result.conversation_id, author="Grace")
    return result.conversation_id


def kinds(service, kind: EventKind) -> list[ConversationEvent]:
    return [e for e in service.seen if e.kind == kind]


async def questions(service, conversation_id: str) -> list[str]:
    return [m.text for m in await service.store.messages(conversation_id)
            if m.direction == Direction.OUTBOUND and m.meta.get("csat") == "question"]


async def test_resolve_asks_once_and_a_number_rates_without_reopening(service, clock):
    conversation_id = await resolved_conversation(service)
    assert await questions(service, conversation_id) == [
        "How did we do?\nReply with a number from 1 (poor) to 5 (excellent); add a comment after it if you like."]
    [sent] = kinds(service, EventKind.CSAT_SENT)
    assert sent.conversation_id == conversation_id and sent.detail == {"channel": "sms"}
    replied = [e for e in kinds(service, EventKind.REPLIED) if e.message_id == sent.message_id]
    assert replied and replied[0].detail["automatic"] == "1"  # the outbound job delivers it

    clock.advance(hours=5)
    result = await service.ingest(sms("  4 - quick, thanks"))
    assert result.outcome == "rated" and result.conversation_id == conversation_id
    conversation = await service.store.conversation(conversation_id)
    assert conversation.status == Status.RESOLVED and conversation.reopen_count == 0
    assert conversation.extra["csat_rating"] == "4" and conversation.extra["csat_comment"] == "quick, thanks"
    assert await service.store.customer_conversation_ids(conversation.customer_id) == [conversation_id]
    [rated] = kinds(service, EventKind.CSAT_RATED)
    assert rated.detail["rating"] == "4" and rated.detail["comment"] == "quick, thanks"
    assert not kinds(service, EventKind.REOPENED) and len(kinds(service, EventKind.ROUTED)) == 1
    timeline = await service.store.messages(conversation_id)
    events = [(m.kind, m.text) for m in timeline if m.direction == Direction.EVENT]
    assert ("csat_sent", "Satisfaction survey sent on sms") in events
    assert ("csat_rated", "Customer rated 4/5: quick, thanks") in events
    assert timeline[-2].direction == Direction.INBOUND and timeline[-2].text == "  4 - quick, thanks"

    # Rated once: the next message, a number or not, is a message again and reopens.
    again = await service.ingest(sms("5"))
    assert again.outcome == "reopened" and again.conversation_id == conversation_id
    assert (await service.store.conversation(conversation_id)).extra["csat_rating"] == "4"


async def test_never_asked_twice_for_one_conversation(service):
    conversation_id = await resolved_conversation(service)
    await service.reopen(conversation_id, author="Grace")
    await service.resolve(conversation_id, author="Grace")
    assert len(await questions(service, conversation_id)) == 1
    assert len(kinds(service, EventKind.CSAT_SENT)) == 1
    # The agent reopened it: the old survey no longer takes a number as a rating.
    assert (await service.ingest(sms("5"))).outcome == "reopened"


async def test_a_reply_after_the_window_reopens(service, clock):
    conversation_id = await resolved_conversation(service)
    clock.advance(days=3, seconds=1)
    result = await service.ingest(sms("5 great"))
    assert result.outcome == "reopened" and result.conversation_id == conversation_id
    assert "csat_rating" not in (await service.store.conversation(conversation_id)).extra
    assert not kinds(service, EventKind.CSAT_RATED)


async def test_the_last_moment_of_the_window_still_rates(service, clock):
    await resolved_conversation(service)
    clock.advance(days=3)
    assert (await service.ingest(sms("3"))).outcome == "rated"


async def test_a_reply_that_is_not_a_number_reopens_and_ends_the_survey(service):
    conversation_id = await resolved_conversation(service)
    result = await service.ingest(sms("It still has not arrived"))
    assert result.outcome == "reopened" and result.conversation_id == conversation_id
    assert (await service.store.conversation(conversation_id)).status == Status.OPEN
    await service.resolve(conversation_id, author="Grace")  # not asked again
    assert (await service.ingest(sms("5"))).outcome == "reopened"
    assert not kinds(service, EventKind.CSAT_RATED)


async def test_an_automatic_reply_to_the_survey_is_no_rating(service):
    conversation_id = await resolved_conversation(service)
    result = await service.ingest(sms("5 days out of office", automatic=True))
    assert result.outcome == "reopened" and result.conversation_id == conversation_id


async def test_no_survey_when_the_last_message_was_automatic(service):
    result = await service.ingest(sms("Out of office until Monday", automatic=True))
    await service.resolve(result.conversation_id, author="Grace")
    assert await questions(service, result.conversation_id) == []
    assert not kinds(service, EventKind.CSAT_SENT)


async def test_no_survey_for_a_customer_who_opted_out(service):
    result = await service.ingest(sms("hello"))
    conversation = await service.store.conversation(result.conversation_id)
    await service.store.update_customer(conversation.customer_id, name=None, attributes={"csat_opt_out": "true"})
    await service.resolve(result.conversation_id, author="Grace")
    assert await questions(service, result.conversation_id) == []
    assert (await service.ingest(sms("5"))).outcome == "reopened"


@pytest.mark.parametrize("queue", ["quiet", "silent"])
async def test_no_survey_in_a_queue_without_one_or_whose_policy_turns_it_off(service, queue):
    result = await service.ingest(sms("hello"))
    await service.transfer(result.conversation_id, queue, author="Grace")
    await service.resolve(result.conversation_id, author="Grace")
    assert await questions(service, result.conversation_id) == []


async def test_the_question_is_no_agent_answer(service):
    result = await service.ingest(sms("hello"))
    await service.resolve(result.conversation_id, author="Grace")
    assert len(await questions(service, result.conversation_id)) == 1
    conversation = await service.store.conversation(result.conversation_id)
    assert conversation.first_response_at is None and "last_agent_reply_at" not in conversation.extra


@pytest.mark.parametrize(("channel", "text"), [
    (Channel.WEBCHAT, "How?"), (Channel.SMS, f"How?\n{SCALE}"), (Channel.EMAIL, f"How?\n{SCALE}"),
    (Channel.SLACK, f"How?\n{SCALE}"),
])
def test_every_channel_but_web_chat_says_how_to_answer(channel, text):
    assert question_text("How?", channel) == text


@pytest.mark.parametrize(("text", "rating"), [
    ("5", Rating(5, "")), ("4/5", Rating(4, "")), (" 3 - fine", Rating(3, "fine")),
    ("1. slow\nvery", Rating(1, "slow\nvery")),
    ("2!", Rating(2, "")), ("5 \u2b50", Rating(5, "\u2b50")),
    ("6", None), ("10", None), ("0", None), ("1st of May", None), ("3.5", None), ("2:30 works", None), ("4pm", None),
    ("great, 5", None), ("", None), ("five", None), ("\u0665", None),
])
def test_what_counts_as_a_rating(text, rating):
    assert parse_rating(text) == rating


async def test_concurrent_answers_rate_once_and_the_rest_reopen_once(service):
    conversation_id = await resolved_conversation(service)
    results = await asyncio.gather(*(service.ingest(sms(f"{n % 5 + 1}")) for n in range(10)))
    assert sorted(r.outcome for r in results) == ["appended"] * 8 + ["rated", "reopened"]
    assert {r.conversation_id for r in results} == {conversation_id}
    conversation = await service.store.conversation(conversation_id)
    assert conversation.status == Status.OPEN and conversation.reopen_count == 1
    assert len(kinds(service, EventKind.CSAT_RATED)) == 1
