"""Email threading: Message-ID lists, signed per-conversation reply addresses, and id lookups.

A reply finds its conversation by (strongest first) the reply address it was
sent to, ``In-Reply-To``, then ``References``; the hint only counts when the
conversation belongs to the sender's own customer, so a shared subject or a
forwarded thread never puts one customer's mail into another's conversation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from base64 import b32encode
from collections.abc import Iterable

from redis.asyncio import Redis

from channels.email.keys import message_key
from conversations import redisio
from conversations.errors import NotFound
from conversations.models import Identity
from conversations.store import ConversationStore

ANGLE_ID = re.compile(r"<([^<>\s]+)>")
TOKEN_SEPARATOR = "-"
SIGNATURE_CHARS = 10  # 50 bits: forging one means guessing, and a guess only reaches its own customer anyway
THREAD_TTL = 400 * 24 * 3600  # customers answer year-old mail
MAX_REFERENCES = 20
# Conversation fields (Conversation.extra) the outbound sender reads.
LAST_MESSAGE_ID = "email:last_message_id"
REFERENCES = "email:references"
SUBJECT = "email:subject"
LAST_AUTOMATIC = "email:automatic"


def message_ids(header: str) -> list[str]:
    """The ids in a Message-ID / In-Reply-To / References value, without angle brackets, in order."""
    found = ANGLE_ID.findall(header or "")
    if not found and header and header.strip():
        found = [word.strip("<>,;") for word in header.split()]
    return [value for value in dict.fromkeys(found) if "@" in value or len(value) > 6]


def _signature(secret: bytes, conversation_id: str) -> str:
    digest = hmac.new(secret, f"reply-address:{conversation_id}".encode(), hashlib.sha256).digest()
    # Lower case: some mail servers lower-case local parts on the way.
    return b32encode(digest).decode().lower()[:SIGNATURE_CHARS]


def reply_address(from_address: str, domain: str | None, secret: bytes, conversation_id: str) -> str:
    """``support+<conversation>-<signature>@domain``: replies reach the conversation even without headers."""
    local, _, own_domain = from_address.partition("@")
    local = local.partition("+")[0]
    return f"{local}+{conversation_id}{TOKEN_SEPARATOR}{_signature(secret, conversation_id)}@{domain or own_domain}"


def conversation_from_address(address: str, secret: bytes) -> str | None:
    """The conversation a reply address names, if its signature is ours."""
    local = address.strip().strip("<>").rpartition("@")[0]
    _, plus, token = local.partition("+")
    conversation_id, separator, signature = token.rpartition(TOKEN_SEPARATOR)
    if not (plus and separator and conversation_id):
        return None
    if hmac.compare_digest(signature.lower().encode(), _signature(secret, conversation_id.lower()).encode()):
        return conversation_id.lower()
    return None


async def remember(redis: Redis, message_id: str, conversation_id: str, stored_message_id: str) -> None:
    await redis.set(message_key(message_id), f"{conversation_id} {stored_message_id}", ex=THREAD_TTL)


async def lookup(redis: Redis, message_id: str) -> tuple[str, str] | None:
    value = redisio.optional_text(await redis.get(message_key(message_id)))
    if not value:
        return None
    conversation_id, _, stored_message_id = value.partition(" ")
    return conversation_id, stored_message_id


async def lookup_many(redis: Redis, message_ids: list[str]) -> list[tuple[str, str] | None]:
    """``lookup`` of each id in one round trip (a pipeline, not MGET: the keys may live on different
    cluster nodes)."""
    if not message_ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for message_id in message_ids:
            pipe.get(message_key(message_id))
        values = await pipe.execute()
    found: list[tuple[str, str] | None] = []
    for value in values:
        text = redisio.optional_text(value)
        conversation_id, _, stored_message_id = (text or "").partition(" ")
        found.append((conversation_id, stored_message_id) if text else None)
    return found


async def thread_hint(
    store: ConversationStore,
    redis: Redis,
    secret: bytes,
    sender: Identity,
    *,
    recipients: Iterable[str],
    in_reply_to: Iterable[str],
    references: Iterable[str],
) -> str | None:
    """The conversation this mail answers, if it is one of the sender's customer's conversations."""
    candidates = [c for c in (conversation_from_address(r, secret) for r in recipients) if c]
    answered = [*in_reply_to, *reversed(list(references))]
    if not candidates and not answered:
        return None  # nothing names a conversation (most first mails): no Redis read at all
    owner = await store.customer_for(sender)
    if owner is None:
        return None  # a new address cannot be answering any conversation of ours
    owner = (await store.current_customer(owner)).id
    candidates += [found[0] for found in await lookup_many(redis, answered) if found]
    for conversation_id in dict.fromkeys(candidates):
        try:
            conversation = await store.conversation(conversation_id)
            if conversation.customer_id == owner:  # the usual case: no merge to follow (one read saved)
                return conversation_id
            customer = await store.current_customer(conversation.customer_id)
        except NotFound:
            continue
        if customer.id == owner:
            return conversation_id
    return None
