"""GATEWAY_INGEST__*: the ingest levers as the composition root wires them (docs/PERFORMANCE.md)."""

from __future__ import annotations

from datetime import UTC, datetime

from redis import Redis as SyncRedis
from redis.asyncio import Redis

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.runtime import build_services, load_live_rules
from tests.conftest import make_settings
from workers import keys as worker_keys

ADA = Identity(Channel.SMS, "+15551230001")


def sms(provider_id: str) -> InboundMessage:
    return InboundMessage(Channel.SMS, ADA, provider_id, "hello", datetime.now(UTC))


async def build(redis_url: str, **ingest: object):
    settings = make_settings(redis_url=redis_url, ingest=ingest) if ingest else make_settings(redis_url=redis_url)
    redis = Redis.from_url(redis_url, decode_responses=True)
    return redis, build_services(settings, redis, SyncRedis.from_url(redis_url), load_live_rules(settings))


async def test_by_default_group_commit_and_identity_cache_are_on(redis_url):
    redis, services = await build(redis_url)
    try:
        ingest = services.store._ingest
        assert ingest.group is not None and ingest.group.shared
        result = await services.store.ingest(sms("SM-1"))
        assert ingest.identities.get(ADA.key) == result.customer_id
        # The SLA sweeper's dirty mark went out with the message itself (an extra write handed in as data).
        assert await redis.zscore(worker_keys.TIMERS_DIRTY, result.conversation_id) is not None
    finally:
        await services.close()
        await redis.aclose()


async def test_the_levers_switch_off(redis_url):
    redis, services = await build(redis_url, group_commit=False, identity_cache_entries=0)
    try:
        ingest = services.store._ingest
        assert ingest.group is not None and not ingest.group.shared
        first = await services.store.ingest(sms("SM-1"))
        second = await services.store.ingest(sms("SM-2"))
        assert second.customer_id == first.customer_id and second.outcome == "appended"
        assert len(ingest.identities) == 0
        assert await redis.zscore(worker_keys.TIMERS_DIRTY, first.conversation_id) is not None
    finally:
        await services.close()
        await redis.aclose()
