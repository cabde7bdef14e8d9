"""Screenshots of the inbox and the dashboard at 1,440 and 390 px, into docs/screenshots/.

    python -m scripts.screenshots            (from the repository root; Debian's chromium + pip's playwright)

Starts the gateway in this process on the embedded default with the example rules,
seeds conversations through the domain service (as the channels would): a week of
answered, resolved and partly rated ones on a driven clock, a burst of log-in problems
that fires the example's trend alert, and a few live ones; then photographs the pages.
The dashboard is photographed only where the gateway has the reports API
(/api/reports); otherwise the script says so and leaves those files as they are.
Not part of the test suite: run it by hand after changing the pages.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
from datetime import UTC, datetime, timedelta
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


HISTORY = [
    # channel, text, rating (None: not answered): six days of ordinary traffic for the dashboard's charts
    (Channel.SMS, "Where is my order? It said Tuesday.", "5 quick answer, thanks"),
    (Channel.EMAIL, "Can I upgrade my plan mid-month?", "4"),
    (Channel.WEBCHAT, "Do you ship to Norway?", None),
    (Channel.SMS, "I'd like to return the blue jacket", "3 took a while"),
    (Channel.EMAIL, "Invoice address is wrong on my bill", "5"),
]
BURST = [("Edsger Dijkstra", "I can't log in since this morning"),
         ("Barbara Liskov", "Login page says my password is wrong"),
         ("Ken Thompson", "Cannot sign in, 2fa code fails"),
         ("Frances Allen", "Log in loops back to the login page"),
         ("John Backus", "Password reset mail never arrives, can't log in")]


async def history(app: web.Application) -> None:
    """A week of resolved conversations on a driven clock (some rated), then a burst of log-in problems now.

    The burst fires examples/routing.yaml's `login-problems` trend (five in an hour, no history yet), so
    the dashboard lists an alert; the ratings fill its CSAT chart.
    """
    services = app[SERVICES]
    service = services.service
    rng = random.Random(4711)
    real_clock, now = service.clock, datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    moment = [now]
    service.clock = lambda: moment[0]
    try:
        for day in range(6, 0, -1):
            for n in range(2 + day % 3):
                channel, text, rating = HISTORY[(day + n) % len(HISTORY)]
                moment[0] = now - timedelta(days=day, hours=rng.randint(1, 9))
                address = (f"+4915100{day}{n:04d}" if channel == Channel.SMS else f"v-{day}-{n}"
                           if channel == Channel.WEBCHAT else f"customer{day}{n}@example.com")
                identity = Identity(channel, f"visitor:{address}" if channel == Channel.WEBCHAT else address)
                opened = await service.ingest(InboundMessage(channel, identity, f"history-{day}-{n}", text, moment[0]))
                moment[0] += timedelta(minutes=rng.randint(4, 90))
                await service.reply(opened.conversation_id, "Thanks for asking! Here is what to do.", "Grace")
                moment[0] += timedelta(minutes=rng.randint(20, 300))
                await service.resolve(opened.conversation_id, "Grace")
                if rating is not None and channel != Channel.WEBCHAT:
                    moment[0] += timedelta(minutes=rng.randint(5, 60))
                    await service.ingest(InboundMessage(channel, identity, f"history-{day}-{n}-rated", rating,
                                                        moment[0]))
    finally:
        service.clock = real_clock
    for n, (name, text) in enumerate(BURST):
        burst = await service.ingest(InboundMessage(Channel.EMAIL, Identity(Channel.EMAIL, f"user{n}@example.net"),
                                                    f"burst-{n}", text, datetime.now(UTC), name=name, subject="Login"))
        await timers.arm(services.store, services.rules.current, burst.conversation_id)


async def seed(app: web.Application) -> None:
    await history(app)
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
