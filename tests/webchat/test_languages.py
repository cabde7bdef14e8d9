"""Languages end to end over the web chat socket: a German first message gets the German auto-reply
and later the German survey; a customer whose ``language`` attribute says Spanish is asked in Spanish.
"""

from __future__ import annotations

from datetime import timedelta

import fakeredis
import pytest

from tests.conftest import Backend, admin_headers, make_settings, start_client
from tests.csat_support import questions, resolve, view
from tests.support import write_rules
from tests.webchat.chat import hello, receive, say
from workers import context

RULES = """\
queues:
  support:
    csat:
      question: {en: "How did we do?", de: "Wie zufrieden waren Sie?", es: "¿Qué tal lo hicimos?"}
default:
  queue: support
  auto_reply:
    en: "Thanks! An agent will answer shortly."
    de: "Danke! Gleich antwortet Ihnen jemand."
    es: "¡Gracias! Enseguida le responde alguien."
"""


@pytest.fixture
async def client(aiohttp_client):
    backend = Backend(make_settings(rules_path=write_rules(RULES)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    yield client
    context.install(None)


async def test_a_german_first_message_gets_german_answers(client):
    ws, _ = await hello(client, name="Anna")
    conversation_id = (await say(ws, "c1", "Hallo, mein Paket ist immer noch nicht angekommen"))["conversation_id"]
    await client.backend.drain_async()
    auto = (await receive(ws, "message"))["message"]
    assert auto["text"] == "Danke! Gleich antwortet Ihnen jemand." and auto["direction"] == "outbound"
    shown = await view(client, conversation_id)
    assert shown["conversation"]["extra"]["language"] == "de"

    await resolve(client, conversation_id)
    await client.backend.drain_async()
    question = (await receive(ws, "message"))["message"]
    assert question["csat"] is True and question["text"] == "Wie zufrieden waren Sie?"
    await ws.close()


async def test_the_language_attribute_picks_the_survey_language(client):
    ws, _ = await hello(client, name="Luis")
    ack = await say(ws, "c1", "Hi, the parcel did not arrive")
    conversation_id = ack["conversation_id"]
    await client.backend.drain_async()
    assert (await receive(ws, "message"))["message"]["text"] == "Thanks! An agent will answer shortly."

    customer_id = (await view(client, conversation_id))["conversation"]["customer_id"]
    response = await client.patch(f"/api/customers/{customer_id}", json={"attributes": {"language": "es"}},
                                  headers=admin_headers())
    assert response.status == 200, await response.text()
    await resolve(client, conversation_id)
    await client.backend.drain_async()
    question = (await receive(ws, "message"))["message"]
    assert question["text"] == "¿Qué tal lo hicimos?"
    [stored] = questions(await view(client, conversation_id))
    assert stored["text"] == "¿Qué tal lo hicimos?"
    await ws.close()


async def test_the_language_attribute_picks_the_next_auto_reply(aiohttp_client):
    # No reopening: the visitor's next message after a resolve opens a new conversation (and auto-reply).
    settings = make_settings(rules_path=write_rules(RULES), reopen_window=timedelta(0))
    backend = Backend(settings, fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    try:
        ws, _ = await hello(client, name="Luis")
        first = (await say(ws, "c1", "Hi, the parcel did not arrive"))["conversation_id"]
        await backend.drain_async()
        assert (await receive(ws, "message"))["message"]["text"] == "Thanks! An agent will answer shortly."
        customer_id = (await view(client, first))["conversation"]["customer_id"]
        response = await client.patch(f"/api/customers/{customer_id}", json={"attributes": {"language": "es"}},
                                      headers=admin_headers())
        assert response.status == 200, await response.text()
        await resolve(client, first)
        await backend.drain_async()
        assert (await receive(ws, "message"))["message"]["text"] == "¿Qué tal lo hicimos?"

        # Written in English, answered in Spanish: the stated language wins over detection.
        second = (await say(ws, "c2", "Hello again, now my invoice is wrong as well"))["conversation_id"]
        assert second != first
        await backend.drain_async()
        auto = (await receive(ws, "message"))["message"]
        assert auto["text"] == "¡Gracias! Enseguida le responde alguien."
        assert (await view(client, second))["conversation"]["extra"]["language"] == "es"
        await ws.close()
    finally:
        context.install(None)
