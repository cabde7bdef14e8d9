"""The inbox's template picker in a real browser: the agent fills a template in, the web chat visitor gets it."""

from __future__ import annotations

import fakeredis
import pytest

from gateway.appkeys import SERVICES
from tests.conftest import Backend, admin_headers, make_settings, start_client
from tests.inbox.conftest import INBOX_RULES, customer_writes
from tests.inbox.test_inbox_browser import Console, no_sideways_scroll, open_inbox
from tests.support import wait_until, write_rules
from tests.webchat.conftest import browser  # noqa: F401  (the chromium fixture)
from workers import context

try:
    from playwright.async_api import expect
except ImportError:  # the browser fixture skips (or, in CI, fails) the test without playwright
    expect = None

TEMPLATES = """\
templates:
  order-delayed:
    description: A parcel is late
    variables: [order, eta]
    sms: "Order {order} late, new date {eta}."
    email: "Dear {customer.name}, your order {order} is delayed. It arrives {eta}."
    webchat: "Hi {customer.first_name|there}, order {order} is delayed; it arrives {eta}."
    default: "Order {order} is delayed (new date {eta})."
  closing:
    default: "Glad we could help, {customer.first_name|there}! Signed, {agent.name}."
"""


@pytest.fixture
async def gateway(aiohttp_client, tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text(TEMPLATES)
    backend = Backend(make_settings(templates_path=path), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend, demo=True)  # the visitor uses the demo page's widget
    client.backend = backend
    yield client
    context.install(None)


async def test_an_agent_fills_in_a_template_and_the_visitor_gets_the_rendered_text(gateway, browser):  # noqa: F811
    console = Console()
    inbox_context, inbox = await open_inbox(browser, gateway, console)
    visitor_context = await browser.new_context(viewport={"width": 1440, "height": 900})
    visitor = await visitor_context.new_page()
    console.watch(visitor)
    try:
        await visitor.goto(str(gateway.make_url("/")))
        await visitor.click("#gw-chat-bubble")
        await visitor.fill("#gw-chat-input", "Where is my parcel?")
        await visitor.press("#gw-chat-input", "Enter")
        await (await inbox.wait_for_selector("#list li", timeout=5000)).click()
        await inbox.wait_for_selector("#timeline li.msg.inbound", timeout=5000)

        # The picker lists the file's templates; one with variables asks for each of them.
        await inbox.wait_for_selector("#template-picker:not(.hidden)", timeout=5000)
        await inbox.select_option("#template-name", "order-delayed")
        await inbox.wait_for_selector("#template-vars input[data-var=eta]", timeout=5000)
        assert await inbox.locator("#template-vars input").count() == 2
        # Until every variable has a value the server's refusal is shown and nothing can be inserted or sent.
        await inbox.locator("#template-preview.error", has_text="needs {").wait_for(timeout=5000)
        assert await inbox.is_disabled("#template-insert") and await inbox.is_disabled("#template-send")

        await inbox.fill("#template-vars input[data-var=order]", "A-17")
        await inbox.fill("#template-vars input[data-var=eta]", "on <b>Friday</b>")
        # The web chat text of the template (the reply goes via webchat), with the visitor's first name.
        store = gateway.app[SERVICES].store
        conversation = await store.conversation(inbox.url.split("#", 1)[1])
        first_name = (await store.current_customer(conversation.customer_id)).name.split()[0]
        rendered = f"Hi {first_name}, order A-17 is delayed; it arrives on <b>Friday</b>."
        await inbox.locator("#template-preview:not(.error)", has_text=rendered).wait_for(timeout=5000)
        # Chromium logs each refused preview (a 400) as a console error; those were expected, nothing else is.
        assert console.errors and all("status of 400" in error for error in console.errors)
        console.errors.clear()
        await inbox.select_option("#composer-kind", "note")  # a note gets the `default` text
        await inbox.locator("#template-preview", has_text="Order A-17 is delayed (new date on <b>Friday</b>).").wait_for(
            timeout=5000)
        await inbox.select_option("#composer-kind", "reply")
        await inbox.locator("#template-preview", has_text=rendered).wait_for(timeout=5000)
        await inbox.locator("#template-insert:not([disabled])").wait_for(timeout=5000)
        assert await inbox.locator("#template-preview b").count() == 0  # a variable's markup stays text

        # Insert puts the text into the reply box; the agent edits it and sends it like any reply.
        await inbox.click("#template-insert")
        await expect(inbox.locator("#composer-text")).to_have_value(rendered, timeout=5000)
        assert await inbox.is_hidden("#template-actions")  # the picker is cleared for the next one
        await inbox.press("#composer-text", "End")
        await inbox.type("#composer-text", " Sorry for the wait!")
        await inbox.click("#composer-send")
        await inbox.locator("#timeline li.msg.outbound", has_text="Sorry for the wait!").wait_for(timeout=5000)
        await gateway.backend.drain_async()
        await visitor.locator(".gw-msg.gw-out", has_text=f"{rendered} Sorry for the wait!").wait_for(timeout=5000)

        # A template without variables sent as is: the server renders it, with the signed-in agent's name.
        await inbox.select_option("#template-name", "closing")
        closing = f"Glad we could help, {first_name}! Signed, agent."
        await inbox.locator("#template-preview", has_text=closing).wait_for(timeout=5000)
        await inbox.click("#template-send")
        await inbox.locator("#timeline li.msg.outbound", has_text=closing).wait_for(timeout=5000)
        await expect(inbox.locator("#composer-text")).to_have_value("", timeout=5000)
        await gateway.backend.drain_async()
        await visitor.locator(".gw-msg.gw-out", has_text=closing).wait_for(timeout=5000)
        # Each reply reached the visitor once, and the variable's markup stayed text on both pages.
        assert await visitor.locator(".gw-msg.gw-out").count() == 2
        assert await visitor.locator(".gw-msg b").count() == 0
        assert await inbox.locator("#timeline b").count() == 0
        assert await no_sideways_scroll(inbox)
        assert console.errors == []
    finally:
        await visitor_context.close()
        await inbox_context.close()


@pytest.fixture
async def texting(aiohttp_client, tmp_path):
    """A gateway whose template file is empty for now (no templates), reloaded every 50 ms."""
    path = tmp_path / "templates.yaml"
    path.write_text("")
    settings = make_settings(rules_path=write_rules(INBOX_RULES), templates_path=path, rules_reload_seconds=0.05)
    backend = Backend(settings, fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend, client.templates_file = backend, path
    yield client
    context.install(None)


async def test_the_picker_follows_the_template_file_and_the_reply_channel(texting, browser):  # noqa: F811
    conversation_id = await customer_writes(texting, "where is my order?", number="+15550000007", name="Ada Lovelace")
    customer_id = (await texting.app[SERVICES].store.conversation(conversation_id)).customer_id
    response = await texting.post(f"/api/customers/{customer_id}/identities", headers=admin_headers(),
                                  json={"channel": "email", "address": "ada@example.com"})
    assert response.status == 200, await response.text()
    console = Console()
    context_, page = await open_inbox(browser, texting, console)
    try:
        await page.click("#list li")
        await page.wait_for_selector("#timeline li.msg.inbound", timeout=5000)
        assert await page.is_hidden("#template-picker")  # no templates: no picker

        texting.templates_file.write_text(TEMPLATES)

        async def loaded():
            status = await (await texting.get("/api/templates", headers=admin_headers())).json()
            return len(status["templates"]) == 2

        await wait_until(loaded, what="the template file to load")
        await page.click("#list li")  # opening a conversation reads the list again; no page reload
        await page.wait_for_selector("#template-picker:not(.hidden)", timeout=5000)

        await page.fill("#composer-text", "Hello Ada.")
        await page.select_option("#template-name", "order-delayed")
        await page.fill("#template-vars input[data-var=order]", "A-17")
        await page.fill("#template-vars input[data-var=eta]", "Friday")
        assert await page.input_value("#composer-channel") == "sms"  # the channel she wrote on
        await page.locator("#template-preview:not(.error)", has_text="Order A-17 late, new date Friday.").wait_for(
            timeout=5000)
        email = "Dear Ada Lovelace, your order A-17 is delayed. It arrives Friday."
        await page.select_option("#composer-channel", "email")
        await page.locator("#template-preview:not(.error)", has_text=email).wait_for(timeout=5000)
        await page.locator("#template-insert:not([disabled])").wait_for(timeout=5000)
        await page.set_viewport_size({"width": 390, "height": 800})  # the picker fits a phone too
        assert await no_sideways_scroll(page) and await page.is_visible("#template-insert")
        await page.click("#template-insert")  # after what the agent had written
        await expect(page.locator("#composer-text")).to_have_value(f"Hello Ada.\n\n{email}", timeout=5000)
        assert all("status of 400" in error for error in console.errors)  # only the refused previews
    finally:
        await context_.close()
