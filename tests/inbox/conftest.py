"""The inbox's tests: a gateway on a rule file with two queues whose SLA targets differ."""

from __future__ import annotations

from datetime import UTC, datetime

import fakeredis
import pytest

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from tests.conftest import Backend, make_settings, start_client
from tests.support import write_rules
from workers import context, timers

INBOX_RULES = """\
queues:
  service: {sla_policy: relaxed}
  support: {sla_policy: strict}
sla_policies:
  relaxed: {first_response: 4h, next_response: 8h, resolution: 3d}
  strict: {first_response: 15m, next_response: 1h, resolution: 8h, warning_at: 50%}
rules:
  - name: broken
    when: {content: {words: [broken, error]}}
    then: {queue: support, tags: [bug]}
  - name: refunds
    when: {content: {words: [refund]}}
    then: {queue: service, priority: high, tags: [billing]}
default:
  queue: service
"""


@pytest.fixture
def inbox_backend() -> Backend:
    backend = Backend(make_settings(rules_path=write_rules(INBOX_RULES)), fakeredis.FakeServer())
    backend.configure_jobs()
    yield backend
    context.install(None)


@pytest.fixture
async def inbox(aiohttp_client, inbox_backend):
    # demo=True: the pages' tests cover the demo page at / too (production serves no page there).
    client = await start_client(aiohttp_client, inbox_backend, demo=True)
    client.backend = inbox_backend
    return client


@pytest.fixture
async def gateway(aiohttp_client, fake_backend):
    """The suite's gateway, with the demo page: the browser tests' visitor writes through its widget."""
    client = await start_client(aiohttp_client, fake_backend, demo=True)
    client.backend = fake_backend
    return client


async def customer_writes(client, text: str, *, number: str, channel: Channel = Channel.SMS,
                          name: str | None = None) -> str:
    """A customer message through the service (as a channel's web edge stores it), routed and SLA-armed."""
    services = client.app[SERVICES]
    address = number if channel == Channel.SMS else f"{number.strip('+')}@example.com"
    result = await services.service.ingest(
        InboundMessage(channel, Identity(channel, address), f"P-{number}-{text[:8]}", text, datetime.now(UTC),
                       name=name))
    await timers.arm(services.store, services.rules.current, result.conversation_id)
    return result.conversation_id
