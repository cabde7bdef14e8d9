"""The inbox in a real browser: an agent answers a web chat visitor, live, with no console error."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from channels.email.inbound import parse_email, to_inbound
from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from gateway.pages import CONTENT_SECURITY_POLICY
from tests.inbox.conftest import customer_writes
from tests.support import ADMIN_TOKEN
from tests.webchat.conftest import browser  # noqa: F401  (the chromium fixture)


class Console:
    """Every console error and uncaught exception of the pages it watches (CSP violations are errors)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page) -> None:
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))


async def no_sideways_scroll(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


async def open_inbox(browser, gateway, console, width: int = 1440, height: int = 900):  # noqa: F811
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    console.watch(page)
    response = await page.goto(str(gateway.make_url(f"/inbox?token={ADMIN_TOKEN}")))
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    await page.wait_for_selector("#live[data-state=live]", timeout=5000)
    assert page.url == str(gateway.make_url("/inbox"))  # the token left the address bar
    return context, page


async def test_an_agent_answers_from_the_inbox_and_the_visitor_sees_it(gateway, browser):  # noqa: F811
    console = Console()
    inbox_context, inbox = await open_inbox(browser, gateway, console)
    visitor_context = await browser.new_context(viewport={"width": 1440, "height": 900})
    visitor = await visitor_context.new_page()
    console.watch(visitor)
    try:
        await visitor.goto(str(gateway.make_url("/")))
        await visitor.click("#gw-chat-bubble")
        await visitor.fill("#gw-chat-input", "Hi, where is my order? <b>not bold</b>")
        await visitor.press("#gw-chat-input", "Enter")

        # Live: the conversation appears in the inbox that was already open, without a reload.
        row = await inbox.wait_for_selector("#list li", timeout=5000)
        assert "webchat" in await row.inner_text()
        await row.click()
        first = await inbox.wait_for_selector("#timeline li.msg.inbound .body", timeout=5000)
        # Text stays text: the customer's markup is shown, never parsed.
        assert await first.inner_text() == "Hi, where is my order? <b>not bold</b>"
        assert await inbox.locator("#timeline b").count() == 0
        assert await inbox.input_value("#composer-channel") == "webchat"

        await inbox.fill("#composer-text", "It ships today.")
        await inbox.click("#composer-send")
        await inbox.wait_for_selector("#timeline li.msg.outbound", timeout=5000)
        await gateway.backend.drain_async()  # the outbound job delivers it to the widget
        reply = await visitor.wait_for_selector(".gw-msg.gw-out", timeout=5000)
        assert "It ships today." in await reply.inner_text()
        # The widget's acknowledgement marks it delivered; the inbox hears of it live.
        await inbox.wait_for_selector("#timeline li.msg.outbound .delivery.delivered", timeout=5000)

        await inbox.select_option("#composer-kind", "note")
        await inbox.fill("#composer-text", "Checked the warehouse.")
        await inbox.press("#composer-text", "Control+Enter")  # sends, like the button
        note = await inbox.wait_for_selector("#timeline li.msg.note", timeout=5000)
        assert "Checked the warehouse." in await note.inner_text()

        # Assign (to the signed-in name by default), unassign, transfer, escalate: each lands on the timeline.
        await inbox.click("#assign")
        await inbox.locator("#conv-meta", has_text="assigned to agent").wait_for(timeout=5000)
        await inbox.fill("#assign-agent", "")
        await inbox.click("#assign")
        await inbox.locator("#conv-meta", has_text="unassigned").wait_for(timeout=5000)
        queue = (await inbox.inner_text("#conv-meta")).split(" · ")[1].split(" tier")[0]
        target = await inbox.locator("#transfer-queue option").first.get_attribute("value")
        assert target and target != queue
        await inbox.fill("#reason", "billing question")
        await inbox.click("#transfer")
        await inbox.locator("#conv-meta", has_text=f"{target} tier 1").wait_for(timeout=5000)
        await inbox.locator("#timeline li.event[data-kind=transferred]", has_text="billing question").wait_for(
            timeout=5000)
        await inbox.click("#escalate")
        await inbox.locator("#conv-meta", has_text=f"{target} tier 2").wait_for(timeout=5000)
        await inbox.locator(f"#queues button[data-queue={target}] .count", has_text="1").wait_for(timeout=5000)

        # A second customer message arrives live in the open conversation.
        await visitor.fill("#gw-chat-input", "Thanks!")
        await visitor.press("#gw-chat-input", "Enter")
        # (locators, not wait_for_function: the page's CSP forbids the eval that one needs)
        await inbox.locator("#timeline li.msg.inbound", has_text="Thanks!").wait_for(timeout=5000)

        await inbox.click("#resolve")
        await inbox.wait_for_selector("#reopen:not(.hidden)", timeout=5000)
        await inbox.locator("#list li").first.wait_for(state="detached", timeout=5000)
        assert await no_sideways_scroll(inbox)
        assert console.errors == []
    finally:
        await visitor_context.close()
        await inbox_context.close()


@pytest.mark.parametrize("width", [1440, 1024, 390])
async def test_inbox_and_demo_page_fit_the_screen(gateway, browser, width):  # noqa: F811
    console = Console()
    visitor_context = await browser.new_context(viewport={"width": width, "height": 800})
    visitor = await visitor_context.new_page()
    console.watch(visitor)
    inbox_context, inbox = await open_inbox(browser, gateway, console, width=width, height=800)
    try:
        await visitor.goto(str(gateway.make_url("/")))
        await visitor.click("#gw-chat-bubble")
        await visitor.fill("#gw-chat-input", "a-very-long-unbroken-word-" * 8)
        await visitor.press("#gw-chat-input", "Enter")
        await visitor.wait_for_selector(".gw-msg.gw-in:not(.gw-pending)", timeout=5000)
        assert await no_sideways_scroll(visitor)
        if width >= 1024:
            # The demo page's agent panel stays clear of the open chat panel.
            agent = await visitor.locator("#agent").bounding_box()
            chat = await visitor.locator("#gw-chat-panel").bounding_box()
            assert agent["x"] + agent["width"] <= chat["x"]

        row = await inbox.wait_for_selector("#list li", timeout=5000)
        await row.click()
        await inbox.wait_for_selector("#timeline li.msg.inbound", timeout=5000)
        assert await inbox.is_visible("#composer-send")
        assert await no_sideways_scroll(inbox)
        if width < 800:  # one pane at a time on a phone, with the way back
            assert not await inbox.is_visible("#pane-list")
            await inbox.click("#back")
            assert await inbox.is_visible("#pane-list")
        assert console.errors == []
    finally:
        await visitor_context.close()
        await inbox_context.close()


async def test_a_wrong_token_is_refused_and_asked_again(gateway, browser):  # noqa: F811
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(str(gateway.make_url("/inbox")))
        await page.fill("#signin-token", "wrong")
        await page.click("#signin-form button")
        await page.locator("#signin-error", has_text="not accepted").wait_for(timeout=5000)
        await page.fill("#signin-token", ADMIN_TOKEN)
        await page.fill("#signin-agent", "Grace")
        await page.click("#signin-form button")
        await page.wait_for_selector("#live[data-state=live]", timeout=5000)
        assert await page.inner_text("#whoami") == "Grace"
        await page.reload()  # kept for the tab: no second sign-in
        await page.wait_for_selector("#live[data-state=live]", timeout=5000)
    finally:
        await context.close()


async def test_markup_in_an_email_stays_text(gateway, browser):  # noqa: F811
    # An email's HTML part is turned into text at intake; whatever markup is left in the text
    # (a customer may well type "<script>") is shown as characters, never parsed.
    hostile = ('<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
               '<a href="javascript:alert(1)">click</a>')
    await gateway.app[SERVICES].service.ingest(InboundMessage(
        Channel.EMAIL, Identity(Channel.EMAIL, "mallory@example.com"), "<m1@example.com>", hostile,
        datetime.now(UTC), name='<b>Mallory</b>', subject="<i>hi</i>"))
    console = Console()
    context, page = await open_inbox(browser, gateway, console)
    try:
        await page.click("#list li")
        body = await page.wait_for_selector("#timeline li.msg.inbound .body", timeout=5000)
        assert await body.inner_text() == hostile
        assert await page.inner_text("#conv-title") == "<b>Mallory</b>"
        assert await page.locator("#app img, #app script, #app a[href^='javascript'], #app b, #app i").count() == 0
        assert await page.title() == "Inbox · Gateway"
        assert console.errors == []
    finally:
        await context.close()


async def test_an_email_shows_the_new_words_with_signature_and_full_mail_folded(gateway, browser):  # noqa: F811
    mail = EmailMessage()
    mail["From"] = "Dana Reyes <dana@contoso.example>"
    mail["To"] = "support@example.com"
    mail["Subject"] = "Re: Login problem"
    mail["Message-ID"] = "<inbox-fold-1@contoso.example>"
    mail.set_content("I still get an error when I log in.\n\n-- \nDana Reyes\nHead of IT | Contoso\n\n"
                     "On Mon, 3 Mar 2025 at 10:15, Example Support <support@example.com> wrote:\n"
                     "> Please clear your browser cache and try again.\n")
    await gateway.app[SERVICES].service.ingest(to_inbound(parse_email(mail.as_bytes()), received_at=datetime.now(UTC)))
    console = Console()
    context, page = await open_inbox(browser, gateway, console)
    try:
        await page.click("#list li")
        body = await page.wait_for_selector("#timeline li.msg.inbound .body", timeout=5000)
        assert await body.inner_text() == "I still get an error when I log in."
        signature, full = page.locator("#timeline li.msg.inbound details.signature"), page.locator(
            "#timeline li.msg.inbound details.full")
        assert (await signature.locator("summary").inner_text(), await full.locator("summary").inner_text()) == (
            "Signature", "Show full email")
        assert not await full.locator(".folded").is_visible()  # folded until the agent asks
        await full.locator("summary").click()
        shown = await full.locator(".folded").inner_text()
        assert "> Please clear your browser cache and try again." in shown and shown.startswith("I still get")
        await signature.locator("summary").click()
        assert await signature.locator(".folded").inner_text() == "Dana Reyes\nHead of IT | Contoso"
        # A live redraw (another message arrives) keeps what the agent opened.
        await gateway.app[SERVICES].service.ingest(InboundMessage(
            Channel.EMAIL, Identity(Channel.EMAIL, "dana@contoso.example"), "<inbox-fold-2@contoso.example>",
            "And it happens on my phone too.", datetime.now(UTC), name="Dana Reyes", subject="Re: Login problem"))
        await page.wait_for_selector("#timeline li.msg.inbound >> nth=1", timeout=5000)
        assert await page.locator("#timeline details.full").first.evaluate("node => node.open")
        assert console.errors == []
    finally:
        await context.close()


async def test_sla_clocks_count_down_warn_and_go_overdue(inbox, browser):  # noqa: F811
    # support's strict policy: first response in 15 minutes, the warning at half of it.
    await customer_writes(inbox, "the app is broken", number="+15550000002", name="Bob")
    console = Console()
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    console.watch(page)
    try:
        await page.clock.install()  # the page's own clock, driven by the test
        await page.goto(str(inbox.make_url(f"/inbox?token={ADMIN_TOKEN}")))
        await page.wait_for_selector("#live[data-state=live]", timeout=5000)
        row_clock = page.locator("#list li .countdown")
        await row_clock.filter(has_text="14m").wait_for(timeout=5000)
        await page.click("#list li")
        first_response = page.locator("#clocks .clock", has_text="first response").locator(".countdown")
        await first_response.filter(has_text="14m").wait_for(timeout=5000)
        assert "warning" not in (await first_response.get_attribute("class"))

        await page.clock.run_for("08:00")  # past the warning (7m30s), before the breach
        await page.locator("#clocks .countdown.warning").filter(has_text="6m").wait_for(timeout=5000)
        await page.clock.run_for("08:00")  # past the deadline
        await page.locator("#clocks .countdown.overdue").filter(has_text="overdue").wait_for(timeout=5000)
        await page.locator("#list li .countdown.overdue").wait_for(timeout=5000)
        assert console.errors == []
    finally:
        await context.close()
