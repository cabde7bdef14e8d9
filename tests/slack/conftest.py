"""Fixtures for the Slack tests: the fake Web API, and the gateway configured to use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fakeredis
import pytest

from gateway.appkeys import SERVICES
from tests.conftest import Backend, make_settings, start_client
from tests.slack.fake_slack import FakeSlack
from tests.slack.signing import SIGNING_SECRET, event_body, form_body, interactive_body, signed_headers
from workers import context

RULES = """\
queues:
  service:
    slack_channel: "#service"
  support:
    slack_channel: "#support"
    tiers:
      1: {}
      2: {slack_channel: "#support-t2"}
      3: {slack_channel: "#support-t3"}
escalation:
  support:
    steps:
      - {from_tier: 1, to_tier: 2, on: [agent]}
      - {from_tier: 2, to_tier: 3, on: [agent], priority: high}
rules:
  - name: technical-problems
    when:
      content:
        words: [error, errors, crash, broken]
    then:
      queue: support
      tags: [bug]
default:
  queue: service
"""
# RULES with SLA policies: support runs "standard"; an agent's Escalate from tier 1 switches the
# conversation to "priority" and starts its first response clock over.
SLA_RULES = """\
queues:
  service:
    slack_channel: "#service"
  support:
    slack_channel: "#support"
    sla_policy: standard
    tiers:
      1: {}
      2: {slack_channel: "#support-t2"}
      3: {slack_channel: "#support-t3"}
sla_policies:
  standard: {first_response: 1h, resolution: 2d, warning_at: 75%}
  priority: {first_response: 10m, resolution: 1d, warning_at: 50%}
escalation:
  support:
    steps:
      - {from_tier: 1, to_tier: 2, on: [agent], sla_policy: priority, restart: [first_response]}
      - {from_tier: 2, to_tier: 3, on: [agent], priority: high}
rules:
  - name: technical-problems
    when:
      content:
        words: [error, errors, crash, broken]
    then:
      queue: support
      tags: [bug]
default:
  queue: service
"""
CUSTOMER_CHANNEL = "CSHARED01"


@pytest.fixture
async def fake_slack(aiohttp_server):
    fake = FakeSlack()
    server = await aiohttp_server(fake.app())
    fake.base_url = str(server.make_url("/api/"))
    return fake


def slack_settings(fake: FakeSlack, tmp_path, rules: str = RULES, slack: dict[str, Any] | None = None,
                   **overrides: Any):
    rules_path = tmp_path / "routing.yaml"
    rules_path.write_text(rules)
    return make_settings(
        rules_path=rules_path, public_url="https://gateway.example",
        slack={"bot_token": "xoxb-test-token", "signing_secret": SIGNING_SECRET, "api_base_url": fake.base_url,
               "customer_channels": [CUSTOMER_CHANNEL], **(slack or {})},
        **overrides,
    )


@dataclass
class SlackGateway:
    """The gateway's test client, its backend, and the fake Slack it talks to."""

    client: Any
    backend: Backend
    fake: FakeSlack

    @property
    def runtime(self):
        return self.client.app[SERVICES]

    async def drain(self) -> None:
        await self.backend.drain_async()

    async def event(self, event: dict, *, event_id: str, headers: dict[str, str] | None = None):
        body = event_body(event, event_id=event_id)
        return await self.client.post("/slack/events", data=body,
                                      headers={**signed_headers(body), **(headers or {})})

    async def command(self, text: str, *, user: str = "UAGENT", channel: str = "C0AGENTS", trigger: str = "t1"):
        body = form_body({"command": "/gateway", "text": text, "user_id": user, "user_name": "grace",
                          "channel_id": channel, "team_id": "T0GATEWAY", "trigger_id": trigger,
                          "response_url": "https://hooks.slack.test/commands/1"})
        return await self.client.post("/slack/events", data=body,
                                      headers=signed_headers(body, content_type="application/x-www-form-urlencoded"))

    async def interact(self, payload: dict):
        body = interactive_body(payload)
        return await self.client.post("/slack/events", data=body,
                                      headers=signed_headers(body, content_type="application/x-www-form-urlencoded"))

    async def press(self, action_id: str, conversation_id: str, *, user: str = "UAGENT", channel: str = "C0",
                    action_ts: str = "1.1"):
        return await self.interact({
            "type": "block_actions", "team": {"id": "T0GATEWAY"}, "user": {"id": user, "team_id": "T0GATEWAY"},
            "api_app_id": "AGATEWAY", "token": "legacy", "trigger_id": f"trigger-{action_ts}",
            "channel": {"id": channel}, "container": {"type": "message"},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "gw_actions",
                         "value": conversation_id, "action_ts": action_ts}],
        })


async def make_gateway(aiohttp_client, fake: FakeSlack, tmp_path, redis_url: str | None = None,
                       rules: str = RULES, slack: dict[str, Any] | None = None) -> SlackGateway:
    if redis_url:
        backend = Backend(slack_settings(fake, tmp_path, rules, slack, redis_url=redis_url))
    else:
        backend = Backend(slack_settings(fake, tmp_path, rules, slack), fakeredis.FakeServer())
    backend.configure_jobs()
    return SlackGateway(await start_client(aiohttp_client, backend), backend, fake)


@pytest.fixture
async def slack_gateway(aiohttp_client, fake_slack, tmp_path):
    """The gateway on fakeredis, configured for the fake Slack."""
    yield await make_gateway(aiohttp_client, fake_slack, tmp_path)
    context.install(None)


@pytest.fixture
async def sla_slack_gateway(aiohttp_client, fake_slack, tmp_path):
    """The gateway on fakeredis with SLA_RULES: SLA policies, and an escalation step that switches policy."""
    yield await make_gateway(aiohttp_client, fake_slack, tmp_path, rules=SLA_RULES)
    context.install(None)


@pytest.fixture(params=["fake", "real"])
async def any_slack_gateway(request, aiohttp_client, fake_slack, tmp_path):
    """The same, on fakeredis and on a real redis-server (locks and scripts run for real)."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "real" else None
    yield await make_gateway(aiohttp_client, fake_slack, tmp_path, redis_url)
    context.install(None)
