"""The reports as a user meets them: the admin API (summary, timeseries, alerts) and `gateway report`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from gateway.appkeys import SERVICES
from tests.conftest import Backend, admin_headers, make_settings, start_client
from tests.reports.support import RULES, T0
from tests.reports.test_scenario import EXPECTED, play
from tests.support import ROOT, redis_snapshot, write_rules
from tests.workers.support import Clock, sms
from workers import context, report_store

FROM, TO = "2026-03-02T09:00:00Z", "2026-03-02T21:00:00Z"


@pytest.fixture
async def reports_gateway(aiohttp_client, redis_url):
    backend = Backend(make_settings(rules_path=write_rules(RULES), redis_url=redis_url))
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    ids = await play(client.app[SERVICES], Clock(T0))
    client.ids = ids
    yield client
    context.install(None)


async def test_summary_gives_the_exact_figures_of_the_scripted_day(reports_gateway):
    response = await reports_gateway.get(f"/api/reports/summary?from={FROM}&to={TO}", headers=admin_headers())
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body.pop("period") == {"from": FROM, "to": TO, "queue": None, "channel": None, "tier": None}
    assert body == EXPECTED
    response = await reports_gateway.get("/api/reports/summary", params={"from": FROM, "to": TO, "queue": "support",
                                                                           "channel": "sms", "group_by": "tier"},
                                         headers=admin_headers())
    body = await response.json()
    assert body["volume"]["new"] == 2 and list(body["groups"]) == ["1"]


async def test_an_event_counts_in_the_next_summary_with_no_sweeper_running(reports_gateway):
    """Events only mark their conversation; the summary records what is marked before it reads."""
    services = reports_gateway.app[SERVICES]
    conversation_id = reports_gateway.ids["d"]
    response = await reports_gateway.post(f"/api/conversations/{conversation_id}/messages",
                                          json={"text": "Sorry for the wait.", "author": "Linus"},
                                          headers=admin_headers())
    assert response.status == 201
    assert await services.redis.zscore(report_store.DIRTY, conversation_id)  # marked, not recorded yet
    response = await reports_gateway.get(f"/api/reports/summary?from={FROM}&to={TO}", headers=admin_headers())
    figures = await response.json()
    assert figures["volume"]["messages_out"] == EXPECTED["volume"]["messages_out"] + 1
    assert figures["first_response_seconds"]["count"] == EXPECTED["first_response_seconds"]["count"] + 1
    assert await services.redis.zcard(report_store.DIRTY) == 0


async def test_a_stored_message_is_marked_in_its_own_round_trip(reports_gateway):
    """The mark of a stored message goes with the message's writes (the listener skips that event)."""
    services = reports_gateway.app[SERVICES]
    await services.service.ingest(sms("my invoice is wrong", "late-1", datetime.now(UTC)))  # opened and routed
    await services.redis.delete(report_store.DIRTY)
    result = await services.service.ingest(sms("and one more thing", "late-2", datetime.now(UTC)))
    assert result.outcome == "appended"
    # Once, from the message's own writes: the INGESTED listener adds no second mark (and no round trip).
    assert await services.redis.zscore(report_store.DIRTY, result.conversation_id) == 1


async def test_timeseries_per_hour_and_per_day(reports_gateway):
    response = await reports_gateway.get("/api/reports/timeseries", params={
        "metric": "volume.new", "interval": "hour", "from": FROM, "to": TO}, headers=admin_headers())
    assert response.status == 200, await response.text()
    body = await response.json()
    assert [p["value"] for p in body["points"]] == [3, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert body["points"][7]["start"] == "2026-03-02T16:00:00Z"
    response = await reports_gateway.get("/api/reports/timeseries", params={
        "metric": "csat.average", "interval": "day", "from": FROM, "to": "2026-03-04T09:00:00Z"},
        headers=admin_headers())
    assert [p["value"] for p in (await response.json())["points"]] == [4.0, None]


@pytest.mark.parametrize(("query", "reason"), [
    ({"from": "yesterday"}, "from must be an ISO 8601 instant"),
    ({"from": "2026-03-02T09:00:00"}, "from needs a time zone"),
    ({"from": TO, "to": FROM}, "from must be before to"),
    ({"from": "2020-01-01T00:00:00Z", "to": TO}, "at most 400 days"),
    ({"channel": "fax"}, "channel must be one of"),
    ({"tier": "7"}, "tier must be one of"),
    ({"queue": "a b"}, "queue must be a queue name"),
    ({"group_by": "agent"}, "group_by must be one of"),
    ({"limit": "5"}, "unknown parameter 'limit'"),
])
async def test_bad_summary_parameters_are_a_clear_400_and_change_nothing(reports_gateway, query, reason):
    client = reports_gateway.backend.sync_client()
    before = redis_snapshot(client)
    response = await reports_gateway.get("/api/reports/summary", params=query, headers=admin_headers())
    assert response.status == 400
    assert reason in (await response.json())["error"]
    assert redis_snapshot(client) == before
    client.close()


@pytest.mark.parametrize(("query", "reason"), [
    ({"metric": "volume.old"}, "metric must be one of"),
    ({"metric": "volume.new", "interval": "week"}, "interval must be hour or day"),
    ({"metric": "volume.new", "from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}, "at most 2000 points"),
])
async def test_bad_timeseries_parameters_are_a_clear_400(reports_gateway, query, reason):
    response = await reports_gateway.get("/api/reports/timeseries", params=query, headers=admin_headers())
    assert response.status == 400 and reason in (await response.json())["error"]


async def test_a_parameter_given_twice_is_a_400(reports_gateway):
    response = await reports_gateway.get("/api/reports/summary?queue=support&queue=service", headers=admin_headers())
    assert response.status == 400 and (await response.json())["error"] == "queue given more than once"


async def test_alerts_list_is_empty_without_trends_and_refuses_a_bad_limit(reports_gateway):
    response = await reports_gateway.get("/api/alerts", headers=admin_headers())
    assert response.status == 200 and await response.json() == {"alerts": []}
    for limit in ("0", "501", "many"):
        response = await reports_gateway.get(f"/api/alerts?limit={limit}", headers=admin_headers())
        assert response.status == 400 and "limit must be" in (await response.json())["error"]


async def test_reports_and_alerts_need_the_admin_token(reports_gateway):
    for path in ("/api/reports/summary", "/api/reports/timeseries?metric=volume.new", "/api/alerts"):
        assert (await reports_gateway.get(path)).status == 401
        assert (await reports_gateway.get(path, headers={"Authorization": "Bearer wrong"})).status == 401


async def test_gateway_report_prints_the_same_figures_as_a_table(reports_gateway):
    env = {**os.environ, "GATEWAY_REDIS_URL": reports_gateway.backend.settings.redis_url,
           "GATEWAY_RULES_PATH": str(reports_gateway.backend.settings.rules_path)}
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "report", "--from", FROM, "--to", TO,
                           "--group-by", "queue"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = {line.split("  ")[0].strip(): line.split() for line in done.stdout.splitlines()}
    assert done.stdout.splitlines()[0] == f"Conversations opened {FROM} to {TO}"
    assert lines["figure"] == ["figure", "all", "service", "support"]
    assert lines["conversations new"][-3:] == ["4", "2", "2"]
    # All: 1800 s; service: C's 1800 s; support: (600 + 58,800) / 2 = 8 h 15 min.
    assert lines["first response median"][-4:] == ["30m", "30m", "8h", "15m"]
    assert lines["first contact resolution"][-3:] == ["33.3%", "0.0%", "50.0%"]
    assert lines["CSAT average"][-3:] == ["4", "-", "4"]
    # The same numbers as JSON, and recomputed from the stored facts first.
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "report", "--from", FROM, "--to", TO, "--json",
                           "--rebuild"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "recomputed 5 of 5 conversations" in done.stderr
    assert json.loads(done.stdout) == EXPECTED
    bad = subprocess.run([sys.executable, "-m", "gateway.cli", "report", "--from", "soon"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "from must be an ISO 8601 instant" in bad.stderr
