"""Trend alerts: a burst of conversations about one topic alerts once, in Slack, and again only after it ended."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.conftest import admin_headers
from tests.reports.support import RULES as TAGGING_RULES  # technical → support, tags [bug]
from tests.reports.support import T0, sms
from tests.slack.conftest import RULES as SLACK_RULES
from tests.slack.conftest import fake_slack, make_gateway  # noqa: F401  (fake_slack: a fixture)
from tests.webchat.chat import hello, say
from tests.workers.support import Clock, fake_runtime, live_rules
from workers import context, trends

TRENDS = """\
trends:
  - name: login-problems
    queue: support
    match: {words: [login, log in]}
    window: 1h
    baseline: 7d
    factor: 3
    min_count: 5
    notify: "#service"
"""


@pytest.fixture
async def trend_gateway(aiohttp_client, fake_slack, tmp_path):
    yield await make_gateway(aiohttp_client, fake_slack, tmp_path, rules=SLACK_RULES + TRENDS)
    context.install(None)


async def test_a_burst_of_support_conversations_about_one_topic_posts_exactly_one_alert(trend_gateway):
    gw = trend_gateway
    opened = []
    # Eight customers in a row on the web chat: "error" routes them to support, "log in" is the topic.
    for n in range(8):
        ws, _ = await hello(gw.client, name=f"Customer {n}")
        ack = await say(ws, f"c-{n}", f"I get an error when I log in ({n})")
        opened.append(ack["conversation_id"])
        await ws.close()
        await gw.drain()
    # A support conversation about something else does not count.
    ws, _ = await hello(gw.client, name="Other")
    await say(ws, "c-x", "I get an error when I print")
    await ws.close()
    await gw.drain()

    [alert] = gw.fake.parents("#service")
    # No history yet: min_count (5) alone decides, so the fifth conversation fired it.
    assert alert.text.startswith("login-problems: 5 conversations in the last hour, no history yet")
    assert "Examples: <https://gateway.example/api/conversations/" in alert.text
    assert opened[4] in alert.text  # the newest ones are the examples
    assert len(gw.fake.parents("#support")) == 9  # every conversation still has its thread

    response = await gw.client.get("/api/alerts", headers=admin_headers())
    assert response.status == 200
    [listed] = (await response.json())["alerts"]
    assert listed["trend"] == "login-problems" and listed["count"] == 5 and listed["usual"] is None
    assert listed["notify"] == "#service" and listed["posted"] is True
    assert set(listed["examples"]) <= set(opened[:5]) and len(listed["examples"]) == 3

    # The job run again (a retry, a second worker) posts nothing more.
    assert await asyncio.to_thread(trends.post_alert, listed["id"]) == "already"
    assert len(gw.fake.parents("#service")) == 1


async def test_the_usual_rate_sets_the_threshold_and_an_alert_rearms_after_the_burst():
    clock = Clock(T0)
    rules = live_rules(SLACK_RULES + TRENDS.replace("baseline: 7d", "baseline: 1d"))
    runtime = await fake_runtime(clock, rules)
    phone = iter(range(1000))

    async def customer(at):
        clock.now = at
        n = next(phone)
        await runtime.service.ingest(sms(f"login error again ({n})", f"p{n}", at, f"+1555010{n:04d}"))

    # Two conversations an hour for a day and a half hour: the usual count per hour is 2.
    for k in range(50):
        await customer(T0 + timedelta(minutes=30 * k))
    assert await trends.list_alerts(runtime.redis, 10) == []
    # A burst: the threshold is 3 x 2 = 6 (above min_count 5); one background conversation is in the window.
    for i in range(8):
        await customer(T0 + timedelta(hours=25, minutes=i))
    [alert] = await trends.list_alerts(runtime.redis, 10)
    assert alert["text"] == "login-problems: 6 conversations in the last hour, usually 2"
    assert (alert["count"], alert["usual"], alert["threshold"]) == (6, 2.0, 6.0)
    # Quiet again: the next conversation finds the rate below the threshold and re-arms the trend...
    await customer(T0 + timedelta(hours=27))
    assert len(await trends.list_alerts(runtime.redis, 10)) == 1
    # ...so the next burst alerts again (once).
    for i in range(10):
        await customer(T0 + timedelta(hours=28, minutes=i))
    newest, first = await trends.list_alerts(runtime.redis, 10)
    assert first["id"] == alert["id"]
    assert newest["text"].startswith("login-problems: 7 conversations in the last hour, usually 2")


async def test_a_conversation_in_another_queue_or_without_the_words_does_not_count():
    clock = Clock(T0)
    runtime = await fake_runtime(clock, live_rules(SLACK_RULES + TRENDS.replace("min_count: 5", "min_count: 1")))
    # "login" without "error": routed to service, not support.
    await runtime.service.ingest(sms("cannot login", "q1", T0, "+15550200001"))
    # support, but about printing.
    await runtime.service.ingest(sms("error when printing", "q2", T0, "+15550200002"))
    assert await trends.list_alerts(runtime.redis, 10) == []
    await runtime.service.ingest(sms("error at login", "q3", T0, "+15550200003"))
    assert len(await trends.list_alerts(runtime.redis, 10)) == 1


async def test_a_burst_after_a_spell_with_no_conversations_at_all_alerts_again():
    clock = Clock(T0)
    runtime = await fake_runtime(clock, live_rules(SLACK_RULES + TRENDS.replace("min_count: 5", "min_count: 1")))
    clock.now = T0
    await runtime.service.ingest(sms("error at login", "s1", T0, "+15550300001"))
    assert len(await trends.list_alerts(runtime.redis, 10)) == 1
    # Nothing at all for five hours, then one more: the trend had no chance to see the quiet, yet it re-arms.
    clock.now = T0 + timedelta(hours=5)
    await runtime.service.ingest(sms("error at login", "s2", clock.now, "+15550300002"))
    assert len(await trends.list_alerts(runtime.redis, 10)) == 2


async def test_a_trend_matching_tags_counts_the_conversations_a_rule_tagged():
    """The issue's own shape: ``match: {tags: [...]}`` counts conversations by the tags routing gave them."""
    tagged = TAGGING_RULES + """\
trends:
  - name: bugs
    match: {tags: [bug]}
    window: 1h
    baseline: 7d
    factor: 3
    min_count: 2
    notify: "#service"
"""
    clock = Clock(T0)
    runtime = await fake_runtime(clock, live_rules(tagged))
    await runtime.service.ingest(sms("how do I change my invoice address", "g1", T0, "+15550400001"))  # no tag
    await runtime.service.ingest(sms("the app crashes on start", "g2", T0, "+15550400002"))
    assert await trends.list_alerts(runtime.redis, 10) == []
    await runtime.service.ingest(sms("an error when I save", "g3", T0, "+15550400003"))
    [alert] = await trends.list_alerts(runtime.redis, 10)
    assert alert["trend"] == "bugs" and alert["count"] == 2 and alert["queue"] is None
