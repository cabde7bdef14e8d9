"""The ``outbound`` job: deliver a conversation's queued messages, in order, once each.

Guarantees:
- In order: one job at a time delivers a conversation (a lock with a TTL),
  oldest queued message first; a message waiting for a retry holds back the
  ones after it, as the customer must not read them out of order.
- Once as the customer sees it: a message whose delivery state is sent (the
  marker) is never handed to the provider again; the message id goes along
  as the provider's idempotency key where the channel has one. Only a crash
  between the provider's answer and the marker can send twice, and only to
  providers without idempotency keys.
- Never to an address that opted out (``service.refusal``): such a message fails at once
  with the reason, checked right before the provider is called.
- Retried: transient errors back off (``retry_after`` is honoured as a
  minimum); permanent errors fail at once; both end in the dead-letter list
  when they give up.
- Not lost: conversations with undelivered messages sit in ``gw:outbound:pending``
  until drained, and the sweeper re-enqueues any nobody is delivering.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from redis.asyncio import Redis

from conversations import redisio
from conversations.clock import now_ms, utcnow
from conversations.errors import NotFound
from conversations.locks import RedisLock
from conversations.logcontext import about
from conversations.messages import OutboundFile, OutboundMessage, PermanentSendError, TransientSendError
from conversations.models import Channel, DeliveryStatus, Direction, Identity, Message
from conversations.store import ConversationStore
from workers import context, dead_letters, defaults, keys
from workers.context import Services

log = logging.getLogger("gateway.outbound")

DONE = frozenset({DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ})
UNDELIVERED = frozenset({DeliveryStatus.QUEUED, DeliveryStatus.SENDING})


def backoff(attempts: int, retry_after: float | None,
            intervals: list[int] = defaults.OUTBOUND_RETRY_INTERVALS) -> float:
    """Seconds before the next try: the schedule's step, never sooner than the provider asked."""
    step = intervals[min(max(attempts, 1), len(intervals)) - 1]
    return max(float(step), float(retry_after or 0))


def deliver(conversation_id: str, message_id: str | None = None, retry: bool = False) -> str:
    """Job: deliver the conversation's undelivered messages, oldest first.

    ``retry``: this run is the scheduled retry of ``message_id``, so its backoff is over
    even if the clock says a few ms are left.
    """
    return context.run(lambda services: deliver_async(services, conversation_id, message_id, retry),
                       conversation_id=conversation_id)


async def deliver_async(services: Services, conversation_id: str, message_id: str | None = None,
                        retry: bool = False) -> str:
    settings = services.settings
    outcome = "drained"
    while True:
        lock = RedisLock(services.redis, keys.outbound_lock(conversation_id), settings.outbound_lock_seconds)
        if not await lock.acquire():
            # Another job delivers this conversation and will take our message in turn. In case
            # its worker died, look again when its lock would have lapsed.
            # One check per lock holder: its token names the job, so the waiters share it.
            holder = redisio.optional_text(await services.redis.get(lock.key)) or "gone"
            wait = max(await services.redis.pttl(lock.key), 0) / 1000 + 0.5
            await schedule(services, conversation_id, None, wait, job_id=f"deliver-check-{conversation_id}-{holder}")
            return "busy"
        try:
            outcome = await _drain(services, conversation_id, lock, message_id if retry else None)
        finally:
            await lock.release()
        # A reply stored while we held the lock found it busy: take it now rather than at the check.
        if outcome != "drained" or not await _ready(services, conversation_id):
            break
    if outcome == "drained":
        await services.redis.zrem(keys.OUTBOUND_PENDING, conversation_id)
    return outcome


async def undelivered(store: ConversationStore, conversation_id: str) -> list[Message]:
    """The conversation's outbound messages not yet delivered, in accepted order."""
    try:
        messages = await store.messages(conversation_id)
    except NotFound:
        return []
    return [m for m in messages if m.direction == Direction.OUTBOUND and m.delivery in UNDELIVERED]


async def _ready(services: Services, conversation_id: str) -> bool:
    pending = await undelivered(services.store, conversation_id)
    return bool(pending) and await _not_before(services, pending[0].id) <= now_ms()


async def _not_before(services: Services, message_id: str) -> int:
    return int(await services.redis.hget(keys.outbound_attempts(message_id), "not_before") or 0)


async def _drain(services: Services, conversation_id: str, lock: RedisLock, retrying: str | None) -> str:
    while True:
        pending = await undelivered(services.store, conversation_id)
        if not pending:
            return "drained"
        message = pending[0]
        retry = await services.redis.hgetall(keys.outbound_attempts(message.id))
        not_before = int(retry.get("not_before") or 0)
        if not_before > now_ms() and message.id != retrying:
            await schedule(services, conversation_id, message.id, (not_before - now_ms()) / 1000,
                           job_id=f"deliver-retry-{message.id}-{retry.get('attempts', 0)}", retry=True)
            return "waiting"
        if not await lock.refresh():
            return "lost lock"
        if await send_one(services, message) == "retry":
            return "waiting"


async def outbound_files(services: Services, message: Message, *, attach: bool) -> tuple[OutboundFile, ...]:
    """The message's stored files as the sender gets them: a signed URL each (a link in chat, Twilio's
    MediaUrl), and the bytes when the channel attaches them (email).

    Raises:
        LookupError: a file is no longer in the store (nothing is sent without it).
    """
    stored = [a for a in message.attachments if a.id]
    if not stored:
        return ()
    files = services.attachments
    if files is None:
        raise LookupError("the message has files but this process has no attachment store")
    now = now_ms() // 1000
    found: list[OutboundFile] = []
    for attachment in stored:
        assert attachment.id is not None
        data: bytes | None = None
        if attach:
            kept = await files.store.get(attachment.id)
            if kept is None:
                raise LookupError(f"the file {attachment.name} is no longer in the attachment store")
            data = kept[0]
        found.append(OutboundFile(name=attachment.name, content_type=attachment.content_type,
                                  size=attachment.size or 0, url=files.posted_url(attachment.id, now), data=data))
    return tuple(found)


async def send_one(services: Services, message: Message) -> str:
    """Hand one message to its channel's sender and record what happened."""
    with about(conversation_id=message.conversation_id, message_id=message.id):
        outcome = await _send_one(services, message)
        if outcome in (DeliveryStatus.SENT.value, DeliveryStatus.DELIVERED.value):
            log.info("%s message %s", message.channel.value if message.channel else "outbound", outcome)
        return outcome


async def _send_one(services: Services, message: Message) -> str:
    store, service, settings = services.store, services.service, services.settings
    conversation_id = message.conversation_id
    if message.delivery in DONE:
        return "already"
    channel = message.channel
    assert channel is not None  # an outbound message always names its channel (changes.replied)
    sender = services.senders.get(channel)
    if sender is None:
        return await _fail(services, message, f"the {channel.value} channel is not configured")
    conversation = await store.conversation(conversation_id)
    try:
        files = await outbound_files(services, message, attach=channel == Channel.EMAIL)
    except LookupError as error:
        return await _fail(services, message, str(error))
    outbound = OutboundMessage(
        message_id=message.id, conversation_id=conversation_id, channel=channel,
        to=Identity.parse(message.meta["to"]), text=message.text, author=message.author,
        subject=conversation.subject, automatic=message.meta.get("automatic") == "1",
        meta={**conversation.extra, **message.meta}, files=files,
    )
    refused = await service.refusal(outbound.to)
    if refused:
        # The address opted out after the message was queued: never the provider, no retry, no dead
        # letter (retrying cannot help until the customer opts back in); the agent sees the reason.
        await service.record_delivery(conversation_id, message.id, DeliveryStatus.FAILED, error=refused)
        await services.redis.delete(keys.outbound_attempts(message.id))
        log.info("delivery of %s refused: %s", message.id, refused)
        return "refused"
    await services.redis.zadd(keys.OUTBOUND_PENDING, {conversation_id: now_ms()})
    await service.record_delivery(conversation_id, message.id, DeliveryStatus.SENDING)
    try:
        result = await asyncio.wait_for(sender.send(outbound), timeout=settings.send_timeout_seconds)
    except PermanentSendError as error:
        return await _fail(services, message, str(error))
    except Exception as error:  # transient, a timeout, or a sender bug: all worth another try
        retry_after = error.retry_after if isinstance(error, TransientSendError) else None
        if not isinstance(error, (TransientSendError, TimeoutError)):
            log.exception("sender %s failed on %s", channel.value, message.id)
        reason = str(error) or type(error).__name__
        attempts = await services.redis.hincrby(keys.outbound_attempts(message.id), "attempts", 1)
        if attempts >= settings.outbound_max_attempts:
            return await _fail(services, message, f"gave up after {attempts} attempts: {reason}")
        delay = backoff(attempts, retry_after)
        await services.redis.hset(keys.outbound_attempts(message.id), "not_before", now_ms() + int(delay * 1000))
        await services.redis.expire(keys.outbound_attempts(message.id), int(timedelta(days=7).total_seconds()))
        await service.record_delivery(conversation_id, message.id, DeliveryStatus.QUEUED, force=True,
                                      error=f"attempt {attempts} failed, retrying in {delay:g}s: {reason}")
        await schedule(services, conversation_id, message.id, delay, job_id=f"deliver-retry-{message.id}-{attempts}",
                       retry=True)
        return "retry"
    status = DeliveryStatus.DELIVERED if result.delivered else DeliveryStatus.SENT
    await service.record_delivery(conversation_id, message.id, status, provider_id=result.provider_id)
    if result.provider_id:
        await store.remember_provider_id(channel.value, result.provider_id, conversation_id, message.id)
    await services.redis.delete(keys.outbound_attempts(message.id))
    return status.value


async def _fail(services: Services, message: Message, reason: str) -> str:
    await services.service.record_delivery(message.conversation_id, message.id, DeliveryStatus.FAILED, error=reason)
    await dead_letters.record_delivery_failure(services.redis, message.conversation_id, message.id, reason)
    await services.redis.delete(keys.outbound_attempts(message.id))
    log.warning("delivery of %s failed for good: %s", message.id, reason)
    return "failed"


async def schedule(services: Services, conversation_id: str, message_id: str | None, delay: float, *, job_id: str,
                   retry: bool = False) -> None:
    """A later delivery run; the fixed job id makes repeated scheduling one scheduled job."""
    at = utcnow() + timedelta(seconds=max(delay, 0.0))
    await services.jobs.enqueue(defaults.OUTBOUND, deliver, conversation_id, message_id, retry, job_id=job_id, at=at)


async def mark_pending(redis: Redis, conversation_id: str) -> None:
    """Remember a conversation has something to deliver (before its job is enqueued)."""
    await redis.zadd(keys.OUTBOUND_PENDING, {conversation_id: now_ms()})
