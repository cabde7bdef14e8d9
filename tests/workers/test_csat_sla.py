"""A survey answer is no customer request: when the conversation reopens later, its SLA clocks start then."""

from __future__ import annotations

from datetime import timedelta

import fakeredis

from conversations.models import Direction
from conversations.service import ConversationService
from conversations.store import ConversationStore
from router import SlaPolicy
from tests.conversations.test_csat import RULES, sms
from tests.conversations.test_ingest import Clock
from workers import sla

POLICY = SlaPolicy(name="p", first_response=timedelta(hours=1), next_response=timedelta(hours=2),
                   resolution=timedelta(hours=8), pause_while_pending=True)


async def test_the_clocks_of_a_reopened_conversation_ignore_the_rating():
    redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    clock = Clock()
    service = ConversationService(ConversationStore(redis), lambda: RULES, clock=clock)
    started = clock.now
    opened = await service.ingest(sms("my order is late"))
    clock.advance(minutes=10)
    await service.reply(opened.conversation_id, "It ships today.", author="Grace")
    clock.advance(minutes=10)
    await service.resolve(opened.conversation_id, author="Grace")
    clock.advance(hours=1)
    assert (await service.ingest(sms("5 thanks"))).outcome == "rated"
    clock.advance(days=2)
    reopened_at = clock.now
    assert (await service.ingest(sms("It did not arrive after all"))).outcome == "reopened"

    timeline = await service.store.messages(opened.conversation_id)
    [answer] = [m for m in timeline if m.direction == Direction.INBOUND and m.text == "5 thanks"]
    assert answer.kind == "csat_answer"
    deadlines = sla.plan(POLICY, sla.CalendarTime(), timeline, started)
    # next_response runs from the reopening message, not from the rating two days earlier ...
    assert deadlines["next_response"].breach == reopened_at + timedelta(hours=2)
    # ... and resolution used 10 minutes before the agent's reply; it restarts at the reopen.
    assert deadlines["resolution"].breach == reopened_at + timedelta(hours=8) - timedelta(minutes=10)
    await redis.aclose()
