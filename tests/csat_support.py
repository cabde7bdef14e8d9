"""Shared by the CSAT tests of each channel: a rule file with a survey, the admin API steps, the checks."""

from __future__ import annotations

from gateway.appkeys import SERVICES
from tests.conftest import admin_headers

QUESTION = "How did we do today?"
SCALE = "Reply with a number from 1 (poor) to 5 (excellent); add a comment after it if you like."
RULES = f"""\
queues:
  support:
    csat: {{ask_on_resolve: true, question: "{QUESTION}", window: 3d}}
default:
  queue: support
"""


async def agent_replies(client, conversation_id: str, text: str = "It ships today.") -> None:
    response = await client.post(f"/api/conversations/{conversation_id}/messages",
                                 json={"text": text, "author": "Grace"}, headers=admin_headers())
    assert response.status == 201, await response.text()


async def resolve(client, conversation_id: str) -> dict:
    response = await client.post(f"/api/conversations/{conversation_id}/resolve", json={"author": "Grace"},
                                 headers=admin_headers())
    assert response.status == 200, await response.text()
    return (await response.json())["conversation"]


async def view(client, conversation_id: str) -> dict:
    response = await client.get(f"/api/conversations/{conversation_id}", headers=admin_headers())
    assert response.status == 200
    return await response.json()


def events(view: dict, kind: str) -> list[dict]:
    return [m for m in view["messages"] if m["direction"] == "event" and m["kind"] == kind]


def questions(view: dict) -> list[dict]:
    return [m for m in view["messages"] if m["direction"] == "outbound" and m["meta"].get("csat") == "question"]


async def all_conversations(client) -> list[str]:
    return await client.app[SERVICES].store.recent_conversation_ids(limit=50)


async def assert_rated(client, conversation_id: str, rating: str, comment: str) -> dict:
    """Rated on that conversation, which stays resolved, never reopened; no other conversation exists."""
    shown = await view(client, conversation_id)
    conversation = shown["conversation"]
    assert conversation["status"] == "resolved" and conversation["reopen_count"] == 0
    assert conversation["extra"]["csat_rating"] == rating and conversation["extra"]["csat_comment"] == comment
    [entry] = events(shown, "csat_rated")
    assert entry["meta"] == {"rating": rating, "comment": comment}
    assert events(shown, "reopened") == []
    assert await all_conversations(client) == [conversation_id]
    return shown


async def reported(client) -> dict:
    """The reports' summary of the last 7 days (the default period), as an admin reads it."""
    response = await client.get("/api/reports/summary", headers=admin_headers())
    assert response.status == 200, await response.text()
    return await response.json()


async def assert_reported(client, rating: int) -> None:
    """The rating is in the reports: one survey sent, one answered, one conversation, none reopened."""
    figures = await reported(client)
    assert figures["csat"] == {"average": float(rating), "responses": 1, "sent": 1, "response_rate": 1.0}
    assert (figures["volume"]["new"], figures["volume"]["reopened"]) == (1, 0)
