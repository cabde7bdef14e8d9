"""The rule file in a running gateway: routing by it, /api/rules, hot reload of good and broken edits."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from tests.conftest import Backend, admin_headers, make_settings, start_client
from tests.support import ROOT

EXAMPLE = ROOT / "examples" / "routing.yaml"


def touch_later(path: Path) -> None:
    """Move the mtime forward so a change is seen even within the filesystem's timestamp granularity."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


async def ingest(client, number: str, text: str) -> str:
    result = await client.app[SERVICES].service.ingest(
        InboundMessage(Channel.SMS, Identity(Channel.SMS, number), f"SM-{number}-{text[:8]}", text, datetime.now(UTC)))
    return result.conversation_id


async def test_example_rules_route_everyday_messages(aiohttp_client):
    import fakeredis

    backend = Backend(make_settings(rules_path=str(EXAMPLE)), fakeredis.FakeServer())
    client = await start_client(aiohttp_client, backend)
    store = client.app[SERVICES].store
    billing = await store.conversation(await ingest(client, "+15550000001", "I was charged twice this month"))
    crash = await store.conversation(await ingest(client, "+15550000002", "the app crashes when I open settings"))
    assert billing.queue == "service" and crash.queue == "support"
    assert billing.rule and crash.rule and billing.rule != "default"


async def test_broken_edit_keeps_the_rules_in_force_and_a_good_edit_takes_effect(aiohttp_client, tmp_path):
    import fakeredis

    rules = tmp_path / "routing.yaml"
    rules.write_text(EXAMPLE.read_text())
    backend = Backend(make_settings(rules_path=str(rules)), fakeredis.FakeServer())
    client = await start_client(aiohttp_client, backend)
    live = client.app[SERVICES].rules
    status = await (await client.get("/api/rules", headers=admin_headers())).json()
    assert status["error"] is None and status["rules"] > 0
    version = status["version"]

    rules.write_text(EXAMPLE.read_text() + "\nrules:\n  - name: [broken\n")
    touch_later(rules)
    assert live.reload_if_changed() is False
    status = await (await client.get("/api/rules", headers=admin_headers())).json()
    assert status["version"] == version and status["error"]
    assert status["errors"][0]["line"] > 0 and status["errors"][0]["column"] > 0
    crash = await client.app[SERVICES].store.conversation(await ingest(client, "+15550000003", "the app crashes"))
    assert crash.queue == "support"  # the old rules still route

    rules.write_text("queues:\n  service: {}\n  support: {}\ndefault:\n  queue: support\n  tier: 2\n")
    touch_later(rules)
    assert live.reload_if_changed() is True
    status = await (await client.get("/api/rules", headers=admin_headers())).json()
    assert status["version"] != version and status["error"] is None
    billing = await client.app[SERVICES].store.conversation(await ingest(client, "+15550000004", "charged twice"))
    assert (billing.queue, billing.tier) == ("support", 2)
