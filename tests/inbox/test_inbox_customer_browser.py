"""The inbox in a real browser: the list's filters and the conversation's context as an agent sees them.

The read API behind them is tested in test_inbox_api.py; here the page itself: the tier, channel
and tag filters narrow the list, the queue tabs pick a queue, and an open conversation shows its
routing event on the timeline, each message's channel, a reply on the channel the agent picks,
the rule that routed it, and the customer with identities, attributes and earlier conversations.
"""

from __future__ import annotations

from conversations.models import Channel
from gateway.appkeys import SERVICES
from tests.conftest import admin_headers
from tests.inbox.conftest import customer_writes
from tests.inbox.test_inbox_browser import Console, open_inbox
from tests.webchat.conftest import browser  # noqa: F401  (the chromium fixture)


async def listed_ids(page) -> list[str]:
    return await page.eval_on_selector_all("#list li", "rows => rows.map(row => row.dataset.id)")


async def wait_for_list(page, ids: list[str]) -> None:
    # Locators only: the page's CSP forbids the eval that wait_for_function needs.
    await page.locator("#list-summary", has_text=f"{len(ids)} live conversation").wait_for(timeout=5000)
    for conversation_id in ids:
        await page.locator(f"#list li[data-id='{conversation_id}']").wait_for(timeout=5000)
    assert await listed_ids(page) == ids


async def test_filters_narrow_the_list_and_a_conversation_shows_its_customer_and_routing(inbox, browser):  # noqa: F811
    services = inbox.app[SERVICES]
    # Bob wrote before: that conversation is resolved and long past, so his new message opens another.
    earlier = await customer_writes(inbox, "the app is broken", number="+15550000002", name="Bob")
    await inbox.post(f"/api/conversations/{earlier}/resolve", json={}, headers=admin_headers())
    customer_id = (await services.store.conversation(earlier)).customer_id
    await services.store.redis.hset(f"gw:{{c:{customer_id}}}:conv:{earlier}", "resolved_at", "1")
    bob = await customer_writes(inbox, "still broken", number="+15550000002")
    await inbox.post(f"/api/customers/{customer_id}/identities", headers=admin_headers(),
                     json={"channel": "email", "address": "bob@example.com"})
    await inbox.patch(f"/api/customers/{customer_id}", headers=admin_headers(),
                      json={"attributes": {"plan": "pro", "country": "UK"}})
    refund = await customer_writes(inbox, "I want a refund", number="+15550000003", channel=Channel.EMAIL,
                                   name="Carla")
    hello = await customer_writes(inbox, "hello there", number="+15550000004", name="Dan")
    escalated = await inbox.post(f"/api/conversations/{hello}/escalate", headers=admin_headers(),
                                 json={"author": "Grace", "reason": "a manager asked for it"})
    assert escalated.status == 200, await escalated.text()

    console = Console()
    context, page = await open_inbox(browser, inbox, console)
    try:
        # support's 15-minute first response comes first; then service's, the older deadline first.
        await wait_for_list(page, [bob, refund, hello])
        await page.select_option("#f-tag", "billing")
        await wait_for_list(page, [refund])
        await page.select_option("#f-tag", "")
        await page.select_option("#f-channel", "email")
        await wait_for_list(page, [refund])
        await page.select_option("#f-channel", "")
        await page.select_option("#f-tier", "2")
        await wait_for_list(page, [hello])
        await page.select_option("#f-tier", "")
        await page.click("#queues button[data-queue=support]")
        await wait_for_list(page, [bob])

        await page.click(f"#list li[data-id='{bob}']")
        await page.locator("#timeline li.event[data-kind=routed]", has_text="broken").wait_for(timeout=5000)
        routing = page.locator("#routing")
        await routing.locator("dd", has_text="broken").wait_for(timeout=5000)
        assert "support" in await routing.inner_text() and "bug" in await routing.inner_text()
        identities = await page.inner_text("#cust-identities")
        assert "+15550000002" in identities and "bob@example.com" in identities
        attributes = await page.inner_text("#cust-attributes")
        assert "plan" in attributes and "pro" in attributes and "country" in attributes and "UK" in attributes
        # Each message says its channel; the reply goes out on the channel the agent picks.
        assert "sms" in await page.inner_text("#timeline li.msg.inbound .meta")
        assert await page.input_value("#composer-channel") == "sms"  # where the customer wrote
        await page.select_option("#composer-channel", "email")
        await page.fill("#composer-text", "I've written to your email address too.")
        await page.click("#composer-send")
        sent = page.locator("#timeline li.msg.outbound", has_text="written to your email")
        await sent.wait_for(timeout=5000)
        assert "via email" in await sent.locator(".meta").inner_text()
        [stored] = [m for m in await services.store.messages(bob) if m.direction.value == "outbound"]
        assert (stored.channel, stored.author) == (Channel.EMAIL, "agent")

        history = page.locator(f"#cust-history li[data-id='{earlier}']")
        assert "resolved" in await history.inner_text()
        await history.click()  # an earlier conversation opens in place
        await page.locator("#timeline li.msg.inbound", has_text="the app is broken").wait_for(timeout=5000)
        assert console.errors == []
    finally:
        await context.close()
