"""Shared pieces of the worker tests: a rule file with a 1-minute SLA, a runtime on a driven clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakeredis

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.runtime import build_services
from router import LiveRules
from tests.conftest import make_settings
from tests.support import write_rules as _write_rules

RULES_YAML = """\
queues:
  support:
    slack_channel: "#support"
    alert_channel: "#support-oncall"
    sla_policy: fast
  service:
    slack_channel: "#service"
    sla_policy: relaxed
sla_policies:
  fast:
    first_response: 1m
    next_response: 2m
    resolution: 10m
    warning_at: 80%
  relaxed:
    first_response: 1h
    resolution: 1d
escalation:
  support:
    steps:
      - {from_tier: 1, to_tier: 2, on: [first_response.breach, agent], restart: [first_response]}
      - {from_tier: 2, to_tier: 3, on: [first_response.breach, agent], priority: high, restart: [first_response]}
default:
  queue: support
  tier: 1
  priority: normal
"""

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def write_rules(text: str = RULES_YAML) -> Path:
    return _write_rules(text)


def live_rules(text: str = RULES_YAML) -> LiveRules:
    return LiveRules(write_rules(text))


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


async def fake_runtime(clock: Clock, rules: LiveRules | None = None, **settings: Any):
    server = fakeredis.FakeServer()
    redis = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    sync = fakeredis.FakeRedis(server=server)
    runtime = build_services(make_settings(**settings), redis, sync, rules or live_rules())
    runtime.service.clock = clock
    return runtime


def sms(text: str, provider_id: str, at: datetime, phone: str = "+15550001000") -> InboundMessage:
    return InboundMessage(channel=Channel.SMS, identity=Identity(Channel.SMS, phone), provider_id=provider_id,
                          text=text, received_at=at)


async def timeline_kinds(runtime, conversation_id: str) -> list[str]:
    return [m.kind for m in await runtime.store.messages(conversation_id) if m.kind]
