"""Proactive messages: the gateway writes first ("tell them before they ask").

The message opens a conversation (or continues the customer's live one) and
goes out like an agent's reply (``ConversationService.reply``: queued for the
outbound job, checked against opt-outs). The conversation waits on the
customer in the queue the caller named; their answer lands in it and is routed
by the rules like a first message (``route_on_answer``, cleared by the ingest
script), so SLA clocks start when the customer writes, not when we did.

Nothing is written when the address opted out (a ``Conflict``) or the text
cannot be composed (the caller's ``compose`` raises): the checks come first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from conversations import claims, codec, ids, keys, redisio
from conversations.errors import Conflict, InvalidRequest
from conversations.models import Channel, ConversationId, Customer, CustomerId, Identity, Message, Status
from conversations.service import ConversationService

OPEN_SCRIPT = resources.files("conversations").joinpath("scripts/open_outbound.lua").read_text()
MAX_MOVED_HOPS = 5
PROACTIVE = "proactive"  # message meta: written first by us, not an answer (no first-response time)
# Channels in the order a customer without a preference or history is written on.
FALLBACK_ORDER = (Channel.SMS, Channel.EMAIL, Channel.WEBCHAT, Channel.SLACK)
PREFERRED = "preferred_channel"  # customer attribute


@dataclass(frozen=True, slots=True)
class Draft:
    """What to send, composed once the customer, channel and conversation are known."""

    text: str
    subject: str | None = None


# compose(customer or None for a new one, conversation id, channel) -> the text (a template rendered, or as given)
Compose = Callable[[Customer | None, ConversationId, Channel], Awaitable[Draft]]


@dataclass(frozen=True, slots=True)
class Sent:
    conversation_id: ConversationId
    message: Message
    opened: bool  # a new conversation (False: the customer's live one continued)
    customer_id: CustomerId


async def target_of(service: ConversationService, customer: Customer, channel: Channel | None) -> Identity:
    """The address to write to: on ``channel``, else the customer's preferred one, else their last one.

    "Preferred" is the customer attribute ``preferred_channel``; "last" is the channel of their latest
    conversation's last message; a customer with neither is written on their first channel of
    ``FALLBACK_ORDER``. On a channel with several addresses, the one the latest conversation used wins.
    """
    live_id = await service.store.live_conversation_id(customer.id)
    live = await service.store.conversation(live_id) if live_id else None
    if channel is None:
        preferred = customer.attributes.get(PREFERRED, "")
        have = {identity.channel for identity in customer.identities}
        if preferred in {c.value for c in have}:
            channel = Channel(preferred)
        elif live is not None and live.last_inbound_channel in have:
            channel = live.last_inbound_channel
        else:
            channel = next((c for c in FALLBACK_ORDER if c in have), None)
        if channel is None:
            raise InvalidRequest(f"customer {customer.id} has no address to write to")
    used = live.extra.get(f"address:{channel.value}") if live is not None else None
    candidates = sorted((i for i in customer.identities if i.channel == channel), key=lambda i: i.key)
    if used and any(identity.key == used for identity in candidates):
        return Identity.parse(used)
    if not candidates:
        raise InvalidRequest(f"customer {customer.id} has no {channel.value} address; pick another channel "
                             f"or link one (POST /api/customers/{customer.id}/identities)")
    return candidates[0]


async def send_first(service: ConversationService, *, to: Identity, customer: Customer | None, queue: str,
                     author: str, compose: Compose) -> Sent:
    """Send a proactive message to ``to`` (of ``customer``, or of nobody yet) in ``queue``.

    Raises:
        Conflict: ``to`` opted out (nothing is stored).
        InvalidRequest, NotFound: from ``compose`` (nothing is stored).
    """
    refused = await service.refusal(to)
    if refused:
        raise Conflict(refused)
    store = service.store
    new_id = ConversationId(ids.conversation_id())
    predicted = await _continued(service, customer)
    draft = await compose(customer, predicted or new_id, to.channel)
    claimed = False
    if customer is None:
        customer_id, claimed = await claims.claim(store.redis, to)
    else:
        customer_id = customer.id
    now = service.clock()
    try:
        outcome, conversation_id, customer_id = await _open(service, customer_id, new_id, now, queue, to,
                                                            draft.subject or "", author)
    except BaseException:
        if claimed:  # no claim may name a customer that was never created
            with contextlib.suppress(Exception):
                await claims.unclaim(store.redis, to, customer_id)
        raise
    await store.redis.set(keys.conversation_locator(conversation_id), customer_id)
    await store.index.sync(conversation_id)
    if conversation_id != (predicted or new_id):
        # The customer's live conversation changed in between: compose again for the one it is.
        draft = await compose(await store.customer(customer_id), conversation_id, to.channel)
    message = await service.reply(conversation_id, draft.text, author, channel=to.channel, meta={PROACTIVE: "1"})
    return Sent(conversation_id, message, outcome == "opened", customer_id)


async def _continued(service: ConversationService, customer: Customer | None) -> ConversationId | None:
    if customer is None:
        return None
    live_id = await service.store.live_conversation_id(customer.id)
    if not live_id:
        return None
    live = await service.store.conversation(live_id)
    return live_id if live.status in (Status.OPEN, Status.PENDING) else None


async def _open(service: ConversationService, customer_id: CustomerId, new_id: ConversationId, now: datetime,
                queue: str, to: Identity, subject: str, author: str) -> tuple[str, ConversationId, CustomerId]:
    redis = service.store.redis
    script = redis.register_script(OPEN_SCRIPT)
    for _ in range(MAX_MOVED_HOPS):
        ck = keys.CustomerKeys(customer_id)
        outcome, value = redisio.texts(await script(
            keys=[ck.customer, ck.identities, ck.conversations],
            args=[ck.tag, customer_id, new_id, codec.to_ms(now), queue, to.channel.value, to.key, subject, author],
        ))
        if outcome != "moved":
            return outcome, ConversationId(value), customer_id
        customer_id = CustomerId(value)
    raise RuntimeError(f"customer merge chain too long for {to.key}")
