"""The exact report of a scripted morning whose CSAT comes from the real survey, not from written entries.

Through GET /api/reports/summary. Two SMS customers on a driven clock in a queue that surveys on
resolve (tests/csat_support.py's rule file): the survey is the gateway's own question on resolve, the
rating is the customer's "4 good" by SMS. Every figure is worked out by hand in the comments.
"""

from __future__ import annotations

from datetime import timedelta

import fakeredis
import pytest

from gateway.appkeys import SERVICES
from tests.conftest import Backend, admin_headers, make_settings, start_client
from tests.csat_support import RULES
from tests.reports.support import T0, sms
from tests.support import write_rules
from tests.workers.support import Clock
from workers import context

A, B = "+15550500001", "+15550500002"


@pytest.fixture
async def client(aiohttp_client):
    backend = Backend(make_settings(rules_path=write_rules(RULES)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    yield client
    context.install(None)


async def test_a_real_survey_and_rating_give_exact_figures(client):
    clock = Clock(T0)
    service = client.app[SERVICES].service
    service.clock = clock

    def at(minutes: int):
        clock.now = T0 + timedelta(minutes=minutes)
        return clock.now

    a = (await service.ingest(sms("my order is late", "a1", at(0), A))).conversation_id
    at(10)
    await service.reply(a, "It ships today.", "Grace")  # A: first response 600 s
    at(30)
    await service.resolve(a, "Grace")  # A: resolved after 1,800 s; the survey goes out
    rated = await service.ingest(sms("4 good", "a2", at(40), A))
    assert (rated.outcome, rated.conversation_id) == ("rated", a)  # no reopen, no new conversation
    b = (await service.ingest(sms("where is my refund", "b1", at(60), B))).conversation_id
    at(80)
    await service.reply(b, "On its way.", "Grace")  # B: first response 1,200 s
    at(120)
    await service.resolve(b, "Grace")  # B: resolved after 3,600 s; surveyed, never answers

    response = await client.get("/api/reports/summary", params={"from": "2026-03-02T09:00:00Z",
                                                                "to": "2026-03-02T21:00:00Z"}, headers=admin_headers())
    assert response.status == 200, await response.text()
    summary = await response.json()
    # In: A's message and its rating, B's message. Out: each conversation's reply and survey question.
    assert summary["volume"] == {"new": 2, "reopened": 0, "messages_in": 3, "messages_out": 4}
    assert summary["first_response_seconds"] == {"median": 900, "p90": 1200, "count": 2, "business_median": None,
                                                 "business_p90": None, "business_count": 0}
    assert (summary["resolution_seconds"]["median"], summary["resolution_seconds"]["p90"]) == (2700, 3600)
    assert (summary["resolved"], summary["first_contact_resolved"], summary["fcr_rate"]) == (2, 2, 1.0)
    assert summary["csat"] == {"average": 4.0, "responses": 1, "sent": 2, "response_rate": 0.5}
