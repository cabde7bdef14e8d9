"""The ``outbound`` job: deliver one agent (or automatic) message to the customer's channel."""

from __future__ import annotations

import logging

from rq import get_current_job

from channels.base import OutboundMessage, PermanentSendError, TransientSendError
from conversations.models import DeliveryStatus, Direction, Identity
from workers import context

log = logging.getLogger("gateway.outbound")

DONE = frozenset({DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ})


def deliver(conversation_id: str, message_id: str) -> str:
    """Send the message unless it was already sent; safe to run twice."""
    return context.run(lambda runtime: deliver_async(runtime, conversation_id, message_id))


async def deliver_async(runtime, conversation_id: str, message_id: str) -> str:
    store = runtime.store
    message = await store.message(conversation_id, message_id)
    if message.direction != Direction.OUTBOUND or message.channel is None:
        return "not outbound"
    if message.delivery in DONE:
        return f"already {message.delivery.value}"
    sender = runtime.senders.get(message.channel)
    if sender is None:
        await runtime.service.record_delivery(conversation_id, message_id, DeliveryStatus.FAILED,
                                 error=f"the {message.channel.value} channel is not configured")
        return "no sender"
    conversation = await store.conversation(conversation_id)
    outbound = OutboundMessage(
        message_id=message.id, conversation_id=conversation_id, channel=message.channel,
        to=Identity.parse(message.meta["to"]), text=message.text, author=message.author,
        subject=conversation.subject, automatic=message.meta.get("automatic") == "1",
        meta={**conversation.extra, **message.meta},
    )
    await runtime.service.record_delivery(conversation_id, message_id, DeliveryStatus.SENDING)
    try:
        result = await sender.send(outbound)
    except PermanentSendError as error:
        await runtime.service.record_delivery(conversation_id, message_id, DeliveryStatus.FAILED, error=str(error))
        log.warning("delivery of %s failed for good: %s", message_id, error)
        return "failed"
    except TransientSendError as error:
        job = get_current_job()
        last_try = job is None or not job.retries_left
        status = DeliveryStatus.FAILED if last_try else DeliveryStatus.QUEUED
        await runtime.service.record_delivery(conversation_id, message_id, status, error=str(error))
        raise
    status = DeliveryStatus.DELIVERED if result.delivered else DeliveryStatus.SENT
    await runtime.service.record_delivery(conversation_id, message_id, status, provider_id=result.provider_id)
    if result.provider_id:
        await store.remember_provider_id(message.channel.value, result.provider_id, conversation_id, message_id)
    return status.value
