"""The store's reads: customers, conversations, timelines, by id, by identity, by provider id.

``ConversationStore`` has these; they are apart from its writes (the ingest step,
``mutate``, delivery states) because reading needs only the layout (``keys.py``)
and the codec, never a transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from conversations import codec, keys, redisio
from conversations.backlog import Filter, Order
from conversations.errors import NotFound
from conversations.index import BacklogIndex
from conversations.ingest import MAX_MOVED_HOPS
from conversations.models import Conversation, ConversationId, Customer, CustomerId, Identity, Message, MessageId, Status


class ConversationReads:
    """Part of ``ConversationStore``: ``redis`` and ``index`` are set by the store's constructor."""

    redis: Redis
    index: BacklogIndex

    async def customer_for(self, identity: Identity) -> CustomerId | None:
        value = redisio.optional_text(await self.redis.get(keys.identity(identity.key)))
        return CustomerId(value) if value else None

    async def customer_for_key(self, identity_key: str) -> CustomerId | None:
        value = redisio.optional_text(await self.redis.get(keys.identity(identity_key)))
        return CustomerId(value) if value else None

    async def customer(self, customer_id: str) -> Customer:
        ck = keys.CustomerKeys(customer_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(ck.customer)
            pipe.smembers(ck.identities)
            fields, identities = await pipe.execute()
        if not fields:
            raise NotFound(f"no customer {customer_id}")
        return codec.customer_from_hash(fields, identities)

    async def current_customer(self, customer_id: str) -> Customer:
        """The customer, following merges to the one that survived."""
        customer = await self.customer(customer_id)
        for _ in range(MAX_MOVED_HOPS):
            if not customer.merged_into:
                return customer
            customer = await self.customer(customer.merged_into)
        return customer

    async def live_conversation_id(self, customer_id: str) -> ConversationId | None:
        """The customer's latest conversation (live, or resolved and still reopenable)."""
        value = redisio.optional_text(await self.redis.hget(keys.CustomerKeys(customer_id).customer, "live"))
        return ConversationId(value) if value else None

    async def customer_conversation_ids(self, customer_id: str) -> list[ConversationId]:
        history = await self.redis.lrange(keys.CustomerKeys(customer_id).conversations, 0, -1)
        return [ConversationId(c) for c in redisio.texts(history)]

    async def locate(self, conversation_id: str) -> CustomerId:
        customer_id = redisio.optional_text(await self.redis.get(keys.conversation_locator(conversation_id)))
        if not customer_id:
            raise NotFound(f"no conversation {conversation_id}")
        return CustomerId(customer_id)

    async def conversation(self, conversation_id: str) -> Conversation:
        ck = keys.CustomerKeys(await self.locate(conversation_id))
        fields = redisio.text_hash(await self.redis.hgetall(ck.conversation(conversation_id)))
        if not fields:
            raise NotFound(f"no conversation {conversation_id}")
        return codec.conversation_from_hash(fields)

    async def conversation_of(self, customer_id: str, conversation_id: str) -> Conversation:
        """The conversation, read where ``customer_id`` keeps it (one round trip: no locator).

        For a caller that knows the owner from a moment ago; after a merge moved it, the locator finds it.
        """
        fields = redisio.text_hash(await self.redis.hgetall(keys.CustomerKeys(customer_id).conversation(conversation_id)))
        if not fields:
            return await self.conversation(conversation_id)
        return codec.conversation_from_hash(fields)

    async def conversations(self, conversation_ids: Iterable[str]) -> list[Conversation]:
        """The conversations that exist, in the order asked; two pipelined round trips for any number."""
        wanted = list(conversation_ids)
        if not wanted:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id in wanted:
                pipe.get(keys.conversation_locator(conversation_id))
            owners = [redisio.optional_text(owner) for owner in await pipe.execute()]
        located = [(c, owner) for c, owner in zip(wanted, owners, strict=True) if owner]
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id, owner in located:
                pipe.hgetall(keys.CustomerKeys(owner).conversation(conversation_id))
            hashes = await pipe.execute()
        return [codec.conversation_from_hash(redisio.text_hash(fields)) for fields in hashes if fields]

    async def messages(self, conversation_id: str) -> list[Message]:
        """The whole timeline in accepted order, with current delivery states."""
        ck = keys.CustomerKeys(await self.locate(conversation_id))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xrange(ck.messages(conversation_id))
            pipe.hgetall(ck.delivery(conversation_id))
            entries, delivery = await pipe.execute()
        return [codec.message_from_fields(conversation_id, fields, delivery) for _, fields in entries]

    async def message(self, conversation_id: str, message_id: str) -> Message:
        """One message; searched newest first, since callers want recent ones."""
        ck = keys.CustomerKeys(await self.locate(conversation_id))
        stream = ck.messages(conversation_id)
        upper = "+"
        while True:
            entries = redisio.stream_entries(await self.redis.xrevrange(stream, max=upper, count=100))
            for entry_id, fields in entries:
                if fields.get("id") == message_id:
                    delivery = redisio.text_hash(await self.redis.hgetall(ck.delivery(conversation_id)))
                    return codec.message_from_fields(conversation_id, fields, delivery)
            if len(entries) < 100:
                raise NotFound(f"no message {message_id} in {conversation_id}")
            upper = "(" + entries[-1][0]

    async def all_conversation_ids(self) -> list[str]:
        """Every conversation the index holds (folded ones included), newest activity first."""
        found: list[str] = []
        cursor = None
        everything = Filter(statuses=frozenset(status.value for status in Status))
        while True:
            page = await self.index.page(everything, Order.ACTIVITY, limit=1000, cursor=cursor)
            found += [conversation_id for conversation_id, _ in page.items]
            cursor = page.next_cursor
            if cursor is None:
                return found

    async def recent_conversation_ids(self, *, limit: int) -> list[str]:
        """The most recently active conversations (folded ones left out), newest first."""
        page = await self.index.page(Filter(), Order.ACTIVITY, limit=limit)
        return [conversation_id for conversation_id, _ in page.items]

    async def find_by_provider_id(self, channel: str, provider_id: str) -> tuple[ConversationId, MessageId] | None:
        value = redisio.optional_text(await self.redis.get(keys.provider_message(channel, provider_id)))
        if not value:
            return None
        conversation_id, _, message_id = value.partition(" ")
        return ConversationId(conversation_id), MessageId(message_id)

    async def ping(self) -> bool:
        return bool(await self.redis.ping())
