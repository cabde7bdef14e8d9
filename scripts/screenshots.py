"""Screenshots of the inbox and the dashboard at 1,440 and 390 px, into docs/screenshots/.

    python -m scripts.screenshots            (from the repository root; Debian's chromium + pip's playwright)

Starts the gateway in this process on the embedded default with the example rules,
seeds a few conversations through the domain service (as the channels would), and
photographs the pages. The dashboard is photographed only where the gateway has the
reports API (/api/reports); otherwise the script says so and leaves those files as
they are. Not part of the test suite: run it by hand after changing the pages.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from playwright.async_api import async_playwright

from conversations.messages import InboundMessage
from conversations.models import Channel, DeliveryStatus, Identity
from gateway.app import create_app
from gateway.appkeys import SERVICES
from gateway.embedded import start_embedded
from gateway.settings import Settings
from tests.support import free_port
from workers import context, timers

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
TOKEN = "screenshot-token"
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if shutil.which(p)), None)
WIDTHS = {"1440": (1440, 900), "390": (390, 844)}

CUSTOMERS = [
    # channel, address, name, subject, text, then: what the agents did
    (Channel.WEBCHAT, "visitor:v-4711", "Ada Lovelace", None, "Hi, my order #4711 hasn't arrived yet. Where is it?",
     ["reply:webchat:It left the warehouse yesterday; you'll have it tomorrow.", "in:Great, thanks! Can I change the address?",
      "note:Customer asked for an address change: check with the carrier."]),
    (Channel.EMAIL, "grace@example.com", "Grace Hopper", "Login broken since the update",
     "Since this morning's update nobody in our team can log in. We get an error 500 on the login page.",
     ["escalate", "note:Reproduced on staging; engineering is on it."]),
    (Channel.SMS, "+4915112345678", "Alan Turing", None, "I was charged twice for my plan this month, please refund one",
     ["reply:sms:Sorry about that! I've started the refund; it shows up in 3-5 days.", "resolve"]),
    (Channel.EMAIL, "linus@example.org", "Linus", "Question about pricing",
     "Do you offer a discount for non-profits?", []),
    (Channel.SMS, "+14155550123", "Margaret Hamilton", None, "The app crashes every time I open settings",
     ["assign:Grace"]),
]


async def seed(app: web.Application) -> None:
    services = app[SERVICES]
    service, store = services.service, services.store
    for n, (channel, address, name, subject, text, actions) in enumerate(CUSTOMERS):
        result = await service.ingest(InboundMessage(channel, Identity(channel, address), f"seed-{n}", text,
                                                     datetime.now(UTC), name=name, subject=subject))
        conversation_id = result.conversation_id
        for step, action in enumerate(actions):
            kind, _, rest = action.partition(":")
            if kind == "reply":
                via, _, words = rest.partition(":")
                message = await service.reply(conversation_id, words, "Grace", channel=Channel(via))
                await service.record_delivery(conversation_id, message.id, DeliveryStatus.DELIVERED)
            elif kind == "note":
                await service.note(conversation_id, rest, "Grace")
            elif kind == "in":
                await service.ingest(InboundMessage(channel, Identity(channel, address), f"seed-{n}-{step}", rest,
                                                    datetime.now(UTC)))
            elif kind == "escalate":
                await service.escalate(conversation_id, "Grace", "an outage for a whole team")
            elif kind == "resolve":
                await service.resolve(conversation_id, "Grace")
            elif kind == "assign":
                await service.assign(conversation_id, rest, "Grace")
        if n == 0:
            await store.update_customer(result.customer_id, name=None, attributes={"plan": "pro", "country": "UK"})
        await timers.arm(store, services.rules.current, conversation_id)


async def shoot() -> int:
    if CHROMIUM is None:
        print("needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    settings = Settings(_env_file=None, rules_path=ROOT / "examples" / "routing.yaml", admin_token=TOKEN,
                        secret_key="screenshots-only", port=free_port())
    embedded, _workers, rules = start_embedded(settings)
    app = create_app(settings, redis=embedded.async_client(), sync_redis=embedded.sync_client(), rules=rules)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    base = f"http://127.0.0.1:{settings.port}"
    try:
        await seed(app)
        OUT.mkdir(parents=True, exist_ok=True)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            for label, (width, height) in WIDTHS.items():
                page = await (await browser.new_context(viewport={"width": width, "height": height})).new_page()
                await page.goto(f"{base}/inbox?token={TOKEN}")
                await page.wait_for_selector("#live[data-state=live]")
                await page.wait_for_selector("#list li")
                await page.click("#list li >> nth=0")
                await page.wait_for_selector("#timeline li.msg")
                await page.screenshot(path=str(OUT / f"inbox-{label}.png"), full_page=True)
                print("wrote", OUT / f"inbox-{label}.png")
                if width < 800:
                    await page.click("#back")
                    await page.screenshot(path=str(OUT / f"inbox-list-{label}.png"), full_page=True)
                    print("wrote", OUT / f"inbox-list-{label}.png")
                response = await page.request.get(f"{base}/api/reports/summary",
                                                  headers={"Authorization": f"Bearer {TOKEN}"})
                if response.status == 404:
                    print("no /api/reports on this gateway: dashboard screenshots left as they are")
                    continue
                await page.goto(f"{base}/dashboard")
                await page.locator(".kpi .value").first.wait_for()
                await page.wait_for_selector("#chart-csat")
                await page.wait_for_timeout(300)  # Chart.js draws on the next animation frame
                await page.screenshot(path=str(OUT / f"dashboard-{label}.png"), full_page=True)
                print("wrote", OUT / f"dashboard-{label}.png")
            await browser.close()
    finally:
        await runner.cleanup()
        context.install(None)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(shoot()))
