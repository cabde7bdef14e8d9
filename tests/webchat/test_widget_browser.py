"""The widget in a real browser: one script tag, a message out, an agent reply in, history after reload."""

from __future__ import annotations

import pytest

from gateway.appkeys import SERVICES
from tests.conftest import admin_headers, start_client
from tests.support import wait_until


@pytest.fixture
async def demo_gateway(aiohttp_client, fake_backend):
    """The app as `gateway demo` builds it: with the demo page at /."""
    client = await start_client(aiohttp_client, fake_backend, demo=True)
    client.backend = fake_backend
    return client


async def test_visitor_chats_through_the_widget(demo_gateway, browser):
    gateway = demo_gateway
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(str(gateway.make_url("/")))
        await page.click("#gw-chat-bubble")
        await page.fill("#gw-chat-input", "Hi, where is my order?")
        await page.press("#gw-chat-input", "Enter")
        # Acknowledged: the pending mark goes away once the gateway stored it.
        await page.wait_for_selector(".gw-msg.gw-in:not(.gw-pending)", timeout=5000)

        store = gateway.app[SERVICES].store
        conversation_ids = await wait_until(lambda: store.recent_conversation_ids(limit=5), what="a conversation")
        response = await gateway.post(f"/api/conversations/{conversation_ids[0]}/messages",
                                      json={"text": "It ships today.", "author": "Grace"}, headers=admin_headers())
        assert response.status == 201
        await gateway.backend.drain_async()
        reply = await page.wait_for_selector(".gw-msg.gw-out", timeout=5000)
        assert "It ships today." in await reply.inner_text() and "Grace" in await reply.inner_text()

        async def reply_delivered() -> bool:
            messages = await store.messages(conversation_ids[0])
            return [m.delivery for m in messages if m.direction == "outbound"] == ["delivered"]

        # The widget acknowledged the frame it showed: only that makes the reply "delivered".
        await wait_until(reply_delivered, what="the widget's delivered acknowledgement")

        await page.reload()
        await page.click("#gw-chat-bubble")
        await page.wait_for_selector(".gw-msg.gw-out", timeout=5000)
        texts = await page.locator(".gw-msg").all_inner_texts()
        assert texts[0] == "Hi, where is my order?" and "It ships today." in texts[1]
    finally:
        await context.close()


async def test_the_demo_page_takes_the_admin_token_out_of_its_address_and_sends_no_referer(demo_gateway, browser):
    gateway = demo_gateway
    # docs/SECURITY.md: the token leaves the address bar (history, bookmarks, shoulder-surfing) and
    # never travels in a Referer to the widget's or anyone's requests.
    context = await browser.new_context()
    page = await context.new_page()
    referers = []
    page.on("request", lambda request: referers.append(request.headers.get("referer")))
    try:
        await page.goto(str(gateway.make_url("/?token=test-admin-token")))
        await page.wait_for_function("location.search === ''", timeout=5000)
        assert await page.input_value("#token") == "test-admin-token"
        await page.reload()  # the token survives in the page's storage, not in the URL
        assert await page.input_value("#token") == "test-admin-token"
        assert page.url == str(gateway.make_url("/"))
        assert len(referers) > 2 and not any(r and "token" in r for r in referers)
    finally:
        await context.close()
