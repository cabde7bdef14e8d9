"""The widget's satisfaction survey in a real browser (Debian's chromium via Playwright's executable_path).

An agent resolves; the question appears with 1-5 buttons; a press rates the conversation, which
stays resolved; the buttons are then disabled, also after a reload. The question is shown as text,
never as HTML.
"""

from __future__ import annotations

import fakeredis
import pytest

from gateway.appkeys import SERVICES
from tests.conftest import Backend, make_settings, start_client
from tests.csat_support import all_conversations, assert_rated, resolve
from tests.support import wait_until, write_rules
from workers import context

QUESTION = 'Rate us <img src=x onerror="window.__xss = 1"> & tell us why'
RULES = f"""\
queues:
  support:
    csat: {{question: '{QUESTION}', window: 3d}}
default:
  queue: support
"""


@pytest.fixture
async def client(aiohttp_client):
    backend = Backend(make_settings(rules_path=write_rules(RULES)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend, demo=True)  # the demo page at / carries the widget
    client.backend = backend
    yield client
    context.install(None)


async def test_the_visitor_rates_with_a_button(client, browser):  # noqa: F811
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []  # script errors of the widget (the demo page has no favicon: a 404 is no error)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        await page.goto(str(client.make_url("/")))
        await page.click("#gw-chat-bubble")
        await page.fill("#gw-chat-input", "Where is my order?")
        await page.press("#gw-chat-input", "Enter")
        await page.wait_for_selector(".gw-msg.gw-in:not(.gw-pending)", timeout=5000)
        [conversation_id] = await wait_until(lambda: all_conversations(client), what="a conversation")

        await resolve(client, conversation_id)
        await client.backend.drain_async()
        buttons = page.locator(".gw-csat button")
        await buttons.first.wait_for(timeout=5000)
        assert await buttons.all_inner_texts() == ["1", "2", "3", "4", "5"]
        question = page.locator(".gw-msg.gw-out").last
        assert QUESTION in await question.inner_text()  # the markup is text ...
        assert await page.locator("#gw-chat-log img").count() == 0  # ... never an element
        assert await page.evaluate("window.__xss") is None

        await page.click('.gw-csat button[data-rating="4"]')
        await page.wait_for_function(
            "document.querySelectorAll('.gw-msg.gw-in:not(.gw-pending)').length === 2", timeout=5000)
        await wait_until(lambda: _rated(client, conversation_id), what="the rating")
        await assert_rated(client, conversation_id, "4", "")
        assert await page.locator(".gw-csat button:disabled").count() == 5
        assert await page.locator(".gw-csat button.gw-chosen").all_inner_texts() == ["4"]

        # After a reload the answered question keeps its buttons, disabled.
        await page.reload()
        await page.click("#gw-chat-bubble")
        await page.wait_for_selector(".gw-csat button", timeout=5000)
        assert await page.locator(".gw-csat button:disabled").count() == 5
        assert await page.locator(".gw-csat button.gw-chosen").all_inner_texts() == ["4"]
        texts = await page.locator(".gw-msg").all_inner_texts()
        assert texts[0] == "Where is my order?" and texts[-1] == "4"
        assert errors == []
    finally:
        await context.close()


async def _rated(client, conversation_id: str) -> bool:
    conversation = await client.app[SERVICES].store.conversation(conversation_id)
    return conversation.extra.get("csat_rating") == "4"
