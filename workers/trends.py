"""Trend alerts: count routed conversations per trend, and alert once when a window bursts.

Layout (docs/REPORTS.md):
- ``gw:trend:<name>:hits``: zset, conversation id → opened (ms); each conversation counts once
  per trend (``ZADD NX``), trimmed to the window plus the baseline.
- ``gw:trend:<name>:since``: string, ms the trend was first watched (the baseline history starts there).
- ``gw:trend:<name>:firing``: string, the id of the alert in force; set with ``NX``, so one burst
  alerts once however many processes evaluate it; deleted when the count falls below the threshold.
- ``gw:{alerts}``: zset, alert id → fired (ms); ``gw:{alerts}:<id>``: hash, the alert.

Time is the conversation's own stored routing time (the service clock), never the
evaluating process's clock, so a test that drives the clock drives the trends.
The Slack post is an RQ job (``post_alert``) with the alert's id as its job id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from channels.slack.api import SlackApi, configured, make_client
from conversations import atomic, codec, ids, redisio
from conversations.errors import NotFound
from conversations.events import ConversationEvent, EventKind, Listener
from conversations.models import Conversation, Direction
from conversations.store import ConversationStore
from router import RuleSet, Threshold, Trend, window_words
from workers import context, defaults, keys
from workers.context import Services
from workers.queues import JobQueues

log = logging.getLogger("gateway.trends")

ALERTS = keys.ALERTS  # hash tag: the list and the alerts in one Cluster slot
EXAMPLES = 3
MAX_ALERTS = 1000  # the list keeps the newest


def hits_key(name: str) -> str:
    return keys.trend_hits(name)


def since_key(name: str) -> str:
    return keys.trend_since(name)


def firing_key(name: str) -> str:
    return keys.trend_firing(name)


def alert_key(alert_id: str) -> str:
    return keys.alert(alert_id)


@dataclass(frozen=True, slots=True)
class Reading:
    count: int  # conversations in the window
    threshold: Threshold
    window_ms: int

    @property
    def over(self) -> bool:
        return self.count >= self.threshold.count


async def routed_conversation(store: ConversationStore, rules: RuleSet,
                              conversation_id: str) -> tuple[Conversation, str, int] | None:
    """The routed conversation, its first customer text (when a trend looks at words), its routing time (ms)."""
    try:
        conversation = await store.conversation(conversation_id)
    except NotFound:
        return None
    now_ms = int(conversation.extra.get("routed_at") or 0)
    if not conversation.queue or not now_ms or not rules.trends:
        return None
    first_text = ""
    if any(trend.words is not None for trend in rules.trends):
        first = next((m for m in await store.messages(conversation_id) if m.direction == Direction.INBOUND), None)
        first_text = first.text if first is not None else ""
    return conversation, first_text, now_ms


async def read(redis: Redis, trend: Trend, now_ms: int) -> Reading:
    """The trend's count in the window ending at ``now_ms`` and the threshold it is measured against."""
    window_ms = int(trend.window.total_seconds() * 1000)
    baseline_ms = int(trend.baseline.total_seconds() * 1000)
    await redis.set(since_key(trend.name), now_ms, nx=True)
    since = int(redisio.optional_text(await redis.get(since_key(trend.name))) or now_ms)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(hits_key(trend.name), "-inf", f"({now_ms - window_ms - baseline_ms}")
        pipe.zcount(hits_key(trend.name), f"({now_ms - window_ms}", now_ms)
        pipe.zcount(hits_key(trend.name), f"({now_ms - window_ms - baseline_ms}", now_ms - window_ms)
        _, count, baseline_count = await pipe.execute()
    history = timedelta(milliseconds=max(0, now_ms - window_ms - since))
    return Reading(int(count), trend.threshold(int(baseline_count), history), window_ms)


async def rearm_if_quiet(redis: Redis, trend: Trend, now_ms: int) -> None:
    """Before counting a new conversation: if the rate fell below the threshold, the next burst alerts again.

    Checked before the new conversation is added, so a burst that starts after a quiet spell with no
    conversations at all (nobody evaluated the trend in between) still alerts.
    """
    if not (await read(redis, trend, now_ms)).over:
        await redis.delete(firing_key(trend.name))


async def evaluate(redis: Redis, trend: Trend, now_ms: int, public_url: str) -> str | None:
    """Fire (once per burst) or re-arm ``trend`` at ``now_ms``; returns the new alert's id if it fired now."""
    reading = await read(redis, trend, now_ms)
    threshold, count, window_ms = reading.threshold, reading.count, reading.window_ms
    if not reading.over:
        await redis.delete(firing_key(trend.name))  # the burst is over: the next one alerts again
        return None
    alert_id = ids.message_id()
    if not await redis.set(firing_key(trend.name), alert_id, nx=True):
        return None  # this burst has alerted already
    examples = redisio.members(await redis.zrevrangebyscore(hits_key(trend.name), now_ms, f"({now_ms - window_ms}",
                                                            start=0, num=EXAMPLES))
    usual = "no history yet" if threshold.usual is None else f"usually {_number(threshold.usual)}"
    text = f"{trend.name}: {count} conversations in the last {window_words(trend.window)}, {usual}"
    alert = {"id": alert_id, "trend": trend.name, "queue": trend.queue or "", "count": str(count),
             "usual": "" if threshold.usual is None else str(round(threshold.usual, 2)),
             "threshold": str(round(threshold.count, 2)), "window": str(int(trend.window.total_seconds())),
             "notify": trend.notify, "fired_at": str(now_ms), "text": text, "examples": json.dumps(examples),
             "links": json.dumps([f"{public_url}/api/conversations/{c}" for c in examples])}
    async with atomic.multi(redis, ALERTS) as pipe:
        pipe.hset(alert_key(alert_id), mapping=redisio.fields(alert))
        pipe.zadd(ALERTS, {alert_id: now_ms})
        await pipe.execute()
    await _trim(redis)
    log.warning("trend alert %s", text)
    return alert_id


async def _trim(redis: Redis) -> None:
    old = redisio.members(await redis.zrange(ALERTS, 0, -(MAX_ALERTS + 1)))
    if old:
        await redis.zrem(ALERTS, *old)
        await redis.delete(*(alert_key(a) for a in old))


def _number(value: float) -> str:
    return str(int(round(value))) if value >= 1 or value == 0 else f"{value:.1f}"


def listener(store: ConversationStore, rules: Callable[[], RuleSet], jobs: JobQueues, public_url: str) -> Listener:
    """On every routed conversation: count it for its trends, evaluate all trends, post new alerts."""

    async def on_event(event: ConversationEvent) -> None:
        if event.kind != EventKind.ROUTED:
            return
        current = rules()
        found = await routed_conversation(store, current, event.conversation_id)
        if found is None:
            return
        conversation, first_text, now_ms = found
        opened_ms = codec.to_ms(conversation.created_at)
        for trend in current.trends:
            if trend.counts(conversation, first_text):
                await rearm_if_quiet(store.redis, trend, now_ms)
                # NX: a conversation routed again (reopened, rerouted) counts once.
                await store.redis.zadd(hits_key(trend.name), {conversation.id: opened_ms}, nx=True)
        for trend in current.trends:
            alert_id = await evaluate(store.redis, trend, now_ms, public_url)
            if alert_id is not None:
                await jobs.enqueue(defaults.SERVICE, post_alert, alert_id, job_id=f"trend-alert-{alert_id}",
                                   retry_intervals=[10, 60, 300])

    return on_event


async def list_alerts(redis: Redis, limit: int) -> list[dict[str, Any]]:
    """The newest alerts first, as the API shows them."""
    found = []
    for alert_id in redisio.members(await redis.zrevrange(ALERTS, 0, limit - 1)):
        fields = redisio.text_hash(await redis.hgetall(alert_key(alert_id)))
        if fields:
            found.append(alert_json(fields))
    return found


def alert_json(fields: dict[str, str]) -> dict[str, Any]:
    return {
        "id": fields["id"], "trend": fields["trend"], "queue": fields.get("queue") or None,
        "count": int(fields["count"]), "usual": float(fields["usual"]) if fields.get("usual") else None,
        "threshold": float(fields["threshold"]), "window_seconds": int(fields["window"]),
        "notify": fields["notify"], "fired_at": codec.iso(codec.from_ms(fields["fired_at"])), "text": fields["text"],
        "examples": json.loads(fields["examples"]), "links": json.loads(fields["links"]),
        "posted": bool(fields.get("posted_ts")),
    }


def alert_message(fields: dict[str, str]) -> str:
    """The Slack text: the alert line, then links to a few example conversations."""
    links = [f"<{link}|{conversation}>" for link, conversation in
             zip(json.loads(fields["links"]), json.loads(fields["examples"]), strict=False)]
    return fields["text"] + (f"\nExamples: {', '.join(links)}" if links else "")


# -- job --------------------------------------------------------------------------------------


def post_alert(alert_id: str) -> str:
    """Post the alert to its Slack channel, once (a rerun after the post finds ``posted_ts``)."""

    async def body(services: Services) -> str:
        fields = redisio.text_hash(await services.redis.hgetall(alert_key(alert_id)))
        if not fields:
            return "gone"
        if fields.get("posted_ts"):
            return "already"
        if not configured(services.slack):
            return "slack not configured"
        api = SlackApi(make_client(services.slack), services.redis)
        posted = await api.post(fields["notify"], alert_message(fields))
        await services.redis.hset(alert_key(alert_id), mapping={"posted_ts": posted.ts, "posted_channel": posted.channel})
        return "posted"

    return context.run(body)
