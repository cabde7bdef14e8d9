"""The reports and trend alerts on a Redis Cluster: the scripted day gives the same figures."""

from __future__ import annotations

from datetime import timedelta

import fakeredis
import pytest
from redis.asyncio.cluster import RedisCluster

from gateway.redis_clients import close_data
from gateway.runtime import build_services
from tests.conftest import make_settings
from tests.faults.servers import Cluster
from tests.reports.support import RULES, T0
from tests.reports.test_scenario import EXPECTED, play
from tests.reports.test_trends import TRENDS
from tests.workers.support import Clock, live_rules
from workers import report_store, trends
from workers.report_summary import Filters


@pytest.mark.timeout(120)
async def test_the_scripted_day_and_a_trend_alert_on_a_cluster():
    cluster = Cluster().start()
    client = RedisCluster.from_url(cluster.url, decode_responses=True)
    try:
        rules = live_rules(RULES + TRENDS.replace("words: [login, log in]", "words: [crash*, error]")
                           .replace("window: 1h", "window: 8h").replace("min_count: 5", "min_count: 3"))
        services = build_services(make_settings(), client, fakeredis.FakeRedis(), rules)
        await play(services, Clock(T0))
        start = int(T0.timestamp() * 1000)
        period = Filters(start, start + int(timedelta(hours=12).total_seconds() * 1000))
        assert await report_store.summary(client, period) == EXPECTED
        # A, D and B are support conversations about crashes and errors within 8 hours: B fired it.
        [alert] = await trends.list_alerts(client, 10)
        assert alert["count"] == 3 and alert["trend"] == "login-problems"
    finally:
        await close_data(client)
        cluster.stop()
