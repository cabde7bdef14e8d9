"""The dashboard in a real browser: the report figures as numbers and charts, the same as the API's,
and the trend alerts of GET /api/alerts."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import fakeredis
import pytest

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from gateway.pages import CONTENT_SECURITY_POLICY
from tests.conftest import Backend, admin_headers, make_settings, start_client
from tests.inbox.test_inbox_browser import Console, no_sideways_scroll
from tests.support import ADMIN_TOKEN, wait_until, write_rules
from tests.webchat.conftest import browser  # noqa: F401  (the chromium fixture)
from workers import context as worker_context
from workers.report_summary import pick


async def some_traffic(gateway) -> None:
    service = gateway.app[SERVICES].service
    for n in range(3):
        result = await service.ingest(InboundMessage(Channel.SMS, Identity(Channel.SMS, f"+1555000100{n}"),
                                                     f"SM-{n}", "my order is late", datetime.now(UTC)))
        if n < 2:
            await service.reply(result.conversation_id, "It ships today.", "Grace")
        if n == 0:
            await service.resolve(result.conversation_id, "Grace")


@pytest.mark.parametrize("width", [1440, 1024, 390])
async def test_the_dashboard_draws_the_apis_figures(gateway, browser, width):  # noqa: F811
    await some_traffic(gateway)
    console = Console()
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    console.watch(page)
    asked: list[str] = []
    page.on("request", lambda request: "/api/reports/" in request.url and asked.append(request.url))
    try:
        response = await page.goto(str(gateway.make_url(f"/dashboard?token={ADMIN_TOKEN}")))
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        await page.locator(".kpi[data-metric='volume.new'] .value", has_text="3").wait_for(timeout=5000)
        for canvas in ("chart-volume", "chart-times", "chart-sla", "chart-csat"):
            # Each chart is drawn when its own time series answers, after the figures above.
            async def drawn(canvas: str = canvas) -> bool:
                return await page.evaluate(f"Chart.getChart(document.getElementById('{canvas}')) !== undefined")

            await wait_until(drawn, what=f"{canvas} drawn")

        summary_url = next(url for url in asked if "/summary?" in url)
        api = await gateway.get("/api/reports/summary?" + urlsplit(summary_url).query, headers=admin_headers())
        summary = await api.json()
        for metric, value in (("volume.new", summary["volume"]["new"]),
                              ("volume.messages_out", summary["volume"]["messages_out"]),
                              ("first_response_seconds.median", summary["first_response_seconds"]["median"]),
                              ("fcr_rate", summary["fcr_rate"])):
            shown = await page.inner_text(f".kpi[data-metric='{metric}'] .value")
            assert (shown == "—") if value is None else float(shown) == value, metric

        volume_url = next(url for url in asked if "metric=volume.new" in url)
        api = await gateway.get("/api/reports/timeseries?" + urlsplit(volume_url).query, headers=admin_headers())
        points = [p["value"] for p in (await api.json())["points"]]
        drawn = await page.evaluate("Chart.getChart(document.getElementById('chart-volume')).data.datasets[0].data")
        assert drawn == points and sum(points) == 3
        assert await no_sideways_scroll(page)
        assert console.errors == []
    finally:
        await context.close()


DASHBOARD_RULES = """\
queues:
  service:
    sla_policy: relaxed
    csat: {ask_on_resolve: true, question: "How did we do?", window: 3d}
sla_policies:
  relaxed: {first_response: 4h, resolution: 3d}
trends:
  - name: late-orders
    match: {words: [late]}
    window: 1h
    baseline: 7d
    factor: 3
    min_count: 2
    notify: "#service"
default:
  queue: service
"""


@pytest.fixture
async def rated_gateway(aiohttp_client):
    backend = Backend(make_settings(rules_path=write_rules(DASHBOARD_RULES)), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    yield client
    worker_context.install(None)


async def test_every_tile_is_the_apis_number_and_trend_alerts_and_ratings_show(rated_gateway, browser):  # noqa: F811
    """A rated conversation and a trend alert: the CSAT tiles and the alert list, each equal to the API."""
    service = rated_gateway.app[SERVICES].service
    for n in range(2):  # the second "late" conversation in the hour fires the trend (min_count 2)
        await service.ingest(InboundMessage(Channel.SMS, Identity(Channel.SMS, f"+1555000200{n}"), f"SM-late-{n}",
                                            "my order is late", datetime.now(UTC)))
    [rated, _] = await service.store.recent_conversation_ids(limit=5)
    await service.reply(rated, "It ships today.", "Grace")
    await service.resolve(rated, "Grace")  # the survey goes out on sms
    answer = await service.ingest(InboundMessage(Channel.SMS, Identity(Channel.SMS, "+15550002001"), "SM-rate",
                                                 "4 quick, thanks", datetime.now(UTC)))
    assert answer.outcome == "rated"
    alerts = (await (await rated_gateway.get("/api/alerts", headers=admin_headers())).json())["alerts"]
    assert [a["trend"] for a in alerts] == ["late-orders"]

    console = Console()
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    console.watch(page)
    asked: list[str] = []
    page.on("request", lambda request: "/api/reports/summary" in request.url and asked.append(request.url))
    try:
        await page.goto(str(rated_gateway.make_url(f"/dashboard?token={ADMIN_TOKEN}")))
        await page.locator(".kpi[data-metric='csat.average'] .value", has_text="4").wait_for(timeout=5000)
        await page.locator("#alerts li", has_text="late-orders: 2 conversations in the last hour").wait_for(
            timeout=5000)
        assert "#service" in await page.inner_text("#alerts")

        api = await rated_gateway.get("/api/reports/summary?" + urlsplit(asked[0]).query, headers=admin_headers())
        summary = await api.json()
        assert summary["csat"] == {"average": 4.0, "responses": 1, "sent": 1, "response_rate": 1.0}
        tiles = await page.eval_on_selector_all(
            ".kpi", "tiles => tiles.map(t => [t.dataset.metric, t.querySelector('.value').textContent])")
        assert {"sla.compliance", "csat.response_rate", "csat.sent"} <= {metric for metric, _ in tiles}
        for metric, shown in tiles:
            value = pick(summary, metric)
            assert shown == ("—" if value is None else str(value if not float(value).is_integer() else int(value))), \
                metric
        assert console.errors == []
    finally:
        await context.close()
