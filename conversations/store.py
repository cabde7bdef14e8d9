"""The Redis store of customers, conversations and messages.

Reads (``reads.py``), the ingest step (``ingest.py``), and optimistic read-modify-write of one
conversation (WATCH/MULTI on keys of one customer's slot). Business decisions
live in ``service.py``; this module only knows the layout (``keys.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from conversations.identity_cache import IdentityCache
from conversations.ingest import (
    DEDUPE_RETENTION,
    LAST_INBOUND_AUTOMATIC,
    MAX_MOVED_HOPS,
    THREAD_HINT,
    ExtraWrites,
    Ingest,
    IngestOptions,
    IngestResult,
    event_json,
)
from conversations.messages import InboundMessage
from conversations import atomic, claims, codec, keys, redisio
from conversations.clock import now_ms, utcnow
from conversations.backlog import VERSION_FIELD, Entry, after_change, entry_of
from conversations.index import BacklogIndex
from conversations.reads import ConversationReads
from conversations.search import CustomerSearch
from conversations.delivery import is_step_back
from conversations.errors import DomainError, NotFound, NotReplicated
from conversations.models import (
    Conversation,
    CustomerId,
    DeliveryStatus,
    Identity,
    Message,
)

log = logging.getLogger("gateway.store")

__all__ = ["DEDUPE_RETENTION", "LAST_INBOUND_AUTOMATIC", "MAX_MOVED_HOPS", "THREAD_HINT", "Change",
           "ConversationStore", "ExtraWrites", "IngestResult", "Mutation", "ReplicaAck"]


@dataclass(slots=True)
class Change:
    """What one mutation writes: conversation fields, new timeline entries, delivery states."""

    fields: dict[str, str | int] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    delivery: dict[str, str] = field(default_factory=dict)
    delete_fields: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fields or self.messages or self.delivery or self.delete_fields)


Mutation = Callable[[Conversation], Change | Awaitable[Change]]


@dataclass(frozen=True, slots=True)
class ReplicaAck:
    """How many replicas must confirm a write before it is acknowledged (Redis ``WAIT``), and how long to wait.

    0 replicas: acknowledged once the primary has it (its AOF policy decides the rest).
    """

    replicas: int = 0
    timeout_ms: int = 1000


class ConversationStore(ConversationReads):
    def __init__(
        self,
        redis: Redis,
        *,
        reopen_window: timedelta = timedelta(days=7),
        dedupe_retention: timedelta = DEDUPE_RETENTION,
        replica_ack: ReplicaAck = ReplicaAck(),
        extra_writes: Sequence[ExtraWrites] = (),
        identity_cache: IdentityCache | None = None,
        group_commit: bool = True,
    ) -> None:
        """``extra_writes``: commands the composition root adds to every stored message's own round trip."""
        self.redis = redis
        self.reopen_window = reopen_window
        self.dedupe_retention = dedupe_retention
        self.replica_ack = replica_ack
        self.index = BacklogIndex(redis)
        self.search = CustomerSearch(redis)
        self._ingest = Ingest(redis, self.index, IngestOptions(reopen_window, dedupe_retention, replica_ack.replicas,
                                                               replica_ack.timeout_ms),
                              extra_writes, identity_cache, group_commit)

    # -- identities and customers -------------------------------------------------

    async def claim_identity(self, identity: Identity) -> CustomerId:
        """The customer an identity belongs to, giving it a new customer id if unknown.

        ``SET NX`` makes concurrent first messages from one address agree on one id.
        """
        customer_id, _ = await claims.claim(self.redis, identity)
        return customer_id

    async def claim_identity_for(self, identity: Identity, customer_id: str) -> CustomerId:
        """Give an unknown identity to ``customer_id``; returns whoever owns it now."""
        return await claims.claim_for(self.redis, identity, customer_id)

    async def add_identity(self, customer_id: str, identity: Identity) -> None:
        await self.redis.sadd(keys.CustomerKeys(customer_id).identities, identity.key)
        await self.search.add(customer_id, identities=[identity.key])

    async def update_customer(self, customer_id: str, *, name: str | None, attributes: dict[str, str] | None) -> None:
        ck = keys.CustomerKeys(customer_id)
        if not await self.redis.exists(ck.customer):
            raise NotFound(f"no customer {customer_id}")
        mapping: dict[str, str] = {}
        if name is not None:
            mapping["name"] = name
            old = redisio.optional_text(await self.redis.hget(ck.customer, "name")) or ""
            await self.search.rename(customer_id, old, name)
        if attributes is not None:
            mapping["attributes"] = json.dumps(attributes, sort_keys=True)
        if mapping:
            await self.redis.hset(ck.customer, mapping=redisio.fields(mapping))

    # -- ingest ----------------------------------------------------------------------

    async def ingest(self, message: InboundMessage, *, now: datetime | None = None,
                     also: ExtraWrites | None = None) -> IngestResult:
        """Store one inbound message exactly once (``ingest.py``); ``also``: the caller's extra writes."""
        return await self._ingest(message, now or utcnow(), also)

    async def confirm_replicated(self) -> None:
        """Wait until the replicas have every write made so far (when they must confirm); else NotReplicated.

        For acknowledgements whose writes were not the store's own (a consent keyword's
        script): WAIT needs a write on its connection, so it writes the probe key first.
        """
        if self.replica_ack.replicas > 0:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(keys.REPLICATION_PROBE, now_ms())
                self._wait_for_replicas(pipe)
                await self._confirmed(pipe)

    def _wait_for_replicas(self, pipe: Pipeline) -> None:
        """Queue ``WAIT`` behind the writes of ``pipe`` when replicas must confirm them.

        WAIT waits for the replication offset of this connection's last write;
        the replication stream is one ordered log, so it covers every write made
        before it on any connection: here, the ingest script.
        """
        if self.replica_ack.replicas > 0:
            pipe.execute_command("WAIT", self.replica_ack.replicas, self.replica_ack.timeout_ms)

    async def _confirmed(self, pipe: Pipeline) -> None:
        results = await pipe.execute()
        if self.replica_ack.replicas > 0 and int(results[-1]) < self.replica_ack.replicas:
            raise NotReplicated(f"{results[-1]} of {self.replica_ack.replicas} replicas confirmed the write within "
                                f"{self.replica_ack.timeout_ms} ms; retry later")

    # -- writes ---------------------------------------------------------------------

    async def mutate(self, conversation_id: str, mutation: Mutation) -> tuple[Conversation, Change]:
        """Apply ``mutation`` to the current state atomically; retried on a concurrent write.

        Returns the conversation as it was before, and the change written.
        """
        customer_id = await self.locate(conversation_id)
        ck = keys.CustomerKeys(customer_id)
        conversation_key = ck.conversation(conversation_id)
        written: list[Entry] = []

        async def attempt(pipe: Pipeline) -> tuple[Conversation, Change]:
            written.clear()
            fields = redisio.text_hash(await pipe.hgetall(conversation_key))
            if not fields:
                raise NotFound(f"no conversation {conversation_id}")
            before = codec.conversation_from_hash(fields)
            change = mutation(before)
            if not isinstance(change, Change):
                change = await change
            if change:
                version = {VERSION_FIELD: int(fields.get(VERSION_FIELD) or 0) + 1}
                entry = entry_of(after_change(fields, {**change.fields, **version}, change.delete_fields))
                redisio.multi(pipe)
                _write(pipe, ck, conversation_id, change, version)
                if not self.index.cluster:
                    await self.index.queue_sync(pipe, entry)  # one Redis: the index changes in the same EXEC
                await pipe.execute()
                written.append(entry)
            return before, change

        # On a cluster the index lives in another slot: the intent covers a crash before its sync.
        intent = await self.index.intend("conv", conversation_id) if self.index.cluster else ""
        try:
            before, change = await atomic.watched(self.redis, [conversation_key], attempt)
        except DomainError:
            # Refused (Conflict, NotFound...): nothing was written. Any other failure (the EXEC's
            # answer lost, say) keeps the intent: the sweeper's repair re-syncs, harmless if moot.
            if intent:
                await self.index.forget(intent)
            raise
        if written and self.index.cluster:
            await self.index.apply(written[0], intent=intent)
        elif intent:
            await self.index.forget(intent)
        if not change:
            return before, change
        await self.confirm_replicated()
        await self.publish(conversation_id, change.messages)
        return before, change

    async def set_delivery(
        self,
        conversation_id: str,
        message_id: str,
        status: DeliveryStatus,
        *,
        error: str | None = None,
        provider_id: str | None = None,
        force: bool = False,
    ) -> bool:
        """Record a delivery status unless it steps back (``delivery.is_step_back``); True if written.

        ``force`` is for a deliberate restart of delivery (a retry after a failure).
        """
        ck = keys.CustomerKeys(await self.locate(conversation_id))
        key = ck.delivery(conversation_id)

        async def attempt(pipe: Pipeline) -> bool:
            raw = redisio.optional_text(await pipe.hget(key, message_id))
            current = json.loads(raw) if raw else {}
            previous = DeliveryStatus(current["status"]) if current.get("status") else None
            if not force and is_step_back(previous, status):
                return False
            redisio.multi(pipe)
            pipe.hset(key, message_id, codec.delivery_state(status, error, provider_id or current.get("provider_id")))
            await pipe.execute()
            return True

        if not await atomic.watched(self.redis, [key], attempt):
            return False
        # After the transaction: PUBLISH names no key, so it has no slot to share with it on a cluster.
        await self.redis.publish(keys.conversation_events(conversation_id), json.dumps(
            {"type": "delivery", "message_id": message_id, "status": status.value, "error": error}))
        return True

    async def set_conversation_fields(self, conversation_id: str, fields: dict[str, str]) -> None:
        """Channel facts kept on the conversation (Slack thread ts, email reply token); no event."""
        key = keys.CustomerKeys(await self.locate(conversation_id)).conversation(conversation_id)
        async with atomic.multi(self.redis, key) as pipe:
            pipe.hset(key, mapping=redisio.fields(fields))
            pipe.hincrby(key, VERSION_FIELD, 1)  # any write of the hash is a new version for the index
            await pipe.execute()
        await self.index.sync(conversation_id)

    async def remember_provider_id(self, channel: str, provider_id: str, conversation_id: str, message_id: str) -> None:
        await self.redis.set(keys.provider_message(channel, provider_id), f"{conversation_id} {message_id}")

    async def publish(self, conversation_id: str, messages: Iterable[Message]) -> None:
        """Tell every process (web chat sockets) about new messages of a conversation."""
        channel = keys.conversation_events(conversation_id)
        for message in messages:
            await self.redis.publish(channel, _event_json(message))

def _write(pipe: Pipeline, ck: keys.CustomerKeys, conversation_id: str, change: Change,
           version: dict[str, int]) -> None:
    pipe.hset(ck.conversation(conversation_id), mapping={k: str(v) for k, v in {**change.fields, **version}.items()})
    if change.delete_fields:
        pipe.hdel(ck.conversation(conversation_id), *change.delete_fields)
    for message in change.messages:
        pipe.xadd(ck.messages(conversation_id), redisio.fields(codec.message_fields(message)))
    if change.delivery:
        pipe.hset(ck.delivery(conversation_id), mapping=redisio.fields(change.delivery))


_event_json = event_json
