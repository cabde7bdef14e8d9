"""The widget's own words in the page's language (``data-lang``), in a real browser, and a German
visitor's first message answered in German by the rule file's auto-reply.
"""

from __future__ import annotations

import fakeredis
import pytest
from aiohttp import web

from tests.conftest import Backend, make_settings, start_client
from tests.support import write_rules
from tests.webchat.test_languages import RULES
from workers import context


@pytest.fixture
async def client(aiohttp_client):
    backend = Backend(make_settings(rules_path=write_rules(RULES)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    yield client
    context.install(None)


async def open_widget(client, browser, aiohttp_server, lang: str | None):  # type: ignore[no-untyped-def]
    """A customer's own site (another origin on 127.0.0.1) embedding the widget with one script tag."""
    attribute = f' data-lang="{lang}"' if lang is not None else ""
    widget = client.make_url("/webchat/widget.js")
    html = f'<!doctype html><html><body><script src="{widget}"{attribute}></script></body></html>'

    async def shop(_request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    site = web.Application()
    site.router.add_get("/", shop)
    server = await aiohttp_server(site)
    context_ = await browser.new_context()
    page = await context_.new_page()
    await page.goto(str(server.make_url("/")))
    await page.click("#gw-chat-bubble")
    return context_, page


async def words(page) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    return {
        "title": await page.inner_text("#gw-chat-head"),
        "placeholder": await page.get_attribute("#gw-chat-input", "placeholder"),
        "send": await page.inner_text("#gw-chat-send"),
        "bubble": await page.get_attribute("#gw-chat-bubble", "aria-label"),
        "attach": await page.get_attribute("#gw-chat-attach", "aria-label"),
    }


async def test_data_lang_de_shows_german_words_and_german_answers(client, browser, aiohttp_server):
    context_, page = await open_widget(client, browser, aiohttp_server, "de")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        assert await words(page) == {
            "title": "Wie können wir helfen?", "placeholder": "Nachricht schreiben…", "send": "Senden",
            "bubble": "Chatten Sie mit uns", "attach": "Bild oder PDF anhängen",
        }
        assert await page.get_attribute("#gw-chat-panel", "lang") == "de"
        await page.fill("#gw-chat-input", "Hallo, mein Paket ist immer noch nicht angekommen")
        await page.press("#gw-chat-input", "Enter")
        await page.wait_for_selector(".gw-msg.gw-in:not(.gw-pending)", timeout=5000)
        await client.backend.drain_async()
        reply = await page.wait_for_selector(".gw-msg.gw-out", timeout=5000)
        assert "Danke! Gleich antwortet Ihnen jemand." in await reply.inner_text()
        assert errors == []
    finally:
        await context_.close()


@pytest.mark.parametrize(("lang", "placeholder", "send"), [
    ("fr-CA", "Écrivez un message…", "Envoyer"),
    ("es", "Escribe un mensaje…", "Enviar"),
    ("xx", "Write a message…", "Send"),  # unknown: English
    (None, "Write a message…", "Send"),
])
async def test_other_languages_and_the_english_fallback(client, browser, aiohttp_server, lang, placeholder, send):
    context_, page = await open_widget(client, browser, aiohttp_server, lang)
    try:
        found = await words(page)
        assert (found["placeholder"], found["send"]) == (placeholder, send)
    finally:
        await context_.close()
