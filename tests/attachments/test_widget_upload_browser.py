"""The widget's file upload in a real browser (Debian's chromium through playwright)."""

from __future__ import annotations

import aiohttp
import fakeredis
import pytest
from playwright.async_api import expect

from gateway.app import create_app
from gateway.appkeys import SERVICES
from tests.attachments import files
from tests.conftest import Backend, admin_headers, make_settings
from tests.support import free_port, wait_until
from tests.webchat.conftest import browser  # noqa: F401  (the chromium fixture)
from workers import context


@pytest.fixture
async def gateway(aiohttp_client):
    """The app on a known port whose public URL is that port: the signed links the browser opens are real."""
    port = free_port()
    backend = Backend(make_settings(public_url=f"http://127.0.0.1:{port}"), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await aiohttp_client(create_app(backend.settings, redis=backend.async_client(),
                                             sync_redis=backend.sync_client(), demo=True),  # the widget page at /
                                  server_kwargs={"port": port})
    client.backend = backend
    yield client
    context.install(None)


async def test_visitor_attaches_an_image_and_gets_an_agents_pdf(gateway, browser, tmp_path):  # noqa: F811
    picture = tmp_path / "broken-screen.png"
    picture.write_bytes(files.png())
    renamed = tmp_path / "holiday.png"
    renamed.write_bytes(files.exe())  # a program named like a picture
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(str(gateway.make_url("/")))
        await page.click("#gw-chat-bubble")
        # Locators, not wait_for_function: the demo page's CSP forbids the eval that one needs.
        await expect(page.locator("#gw-chat-status")).to_have_text("", timeout=5000)
        await page.fill("#gw-chat-input", "the screen after the update")
        await page.set_input_files("#gw-chat-file", str(picture))
        shown = await page.wait_for_selector(".gw-msg.gw-in:not(.gw-pending) a.gw-file", timeout=5000)
        assert "broken-screen.png" in await shown.inner_text()
        href = await shown.get_attribute("href")
        assert "/attachments/att_" in href and "sig=" in href

        store = gateway.app[SERVICES].store
        [conversation_id] = await wait_until(lambda: store.recent_conversation_ids(limit=5), what="a conversation")
        [message] = [m for m in await store.messages(conversation_id) if m.direction == "inbound"]
        assert message.text == "the screen after the update"
        assert [(a.name, a.content_type) for a in message.attachments] == [("broken-screen.png", "image/png")]
        # The link the widget shows opens the very bytes, in the browser, with no token.
        opened = await page.request.get(href)
        assert opened.status == 200 and await opened.body() == files.png()

        # A file the web chat does not take: the reason is shown, nothing is stored.
        await page.set_input_files("#gw-chat-file", str(renamed))
        await expect(page.locator("#gw-chat-status")).to_contain_text("not accepted on webchat", timeout=5000)
        assert len([m for m in await store.messages(conversation_id) if m.direction == "inbound"]) == 1

        # The agent answers with a PDF and no text: the widget shows it as a link.
        data = aiohttp.FormData(default_to_multipart=True)
        data.add_field("file", files.pdf(), filename="manual.pdf", content_type="application/pdf")
        response = await gateway.post(f"/api/conversations/{conversation_id}/messages", data=data,
                                      headers=admin_headers())
        assert response.status == 201, await response.text()
        await gateway.backend.drain_async()
        link = await page.wait_for_selector(".gw-msg.gw-out a.gw-file", timeout=5000)
        assert "manual.pdf" in await link.inner_text()
        pdf = await page.request.get(await link.get_attribute("href"))
        assert pdf.status == 200 and await pdf.body() == files.pdf()
    finally:
        await context.close()
