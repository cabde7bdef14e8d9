"""The Redis store of customers, conversations and messages.

Reads, the atomic ingest step, and optimistic read-modify-write of one
conversation (WATCH/MULTI on keys of one customer's slot). Business decisions
live in ``service.py``; this module only knows the layout (``keys.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from conversations.messages import InboundMessage
from conversations import atomic, claims, codec, ids, keys, ratings, redisio
from conversations.backlog import VERSION_FIELD, Entry, Filter, Order, after_change, entry_of
from conversations.index import BacklogIndex
from conversations.search import CustomerSearch, term_members
from conversations.delivery import is_step_back
from conversations.errors import DomainError, NotFound, NotReplicated
from conversations.models import (
    Conversation,
    ConversationId,
    Customer,
    CustomerId,
    DeliveryStatus,
    Direction,
    Identity,
    Message,
    MessageId,
    Status,
)

log = logging.getLogger("gateway.store")

INGEST_SCRIPT = resources.files("conversations").joinpath("scripts/ingest.lua").read_text()
DEDUPE_RETENTION = timedelta(days=30)  # Slack retries for minutes, email servers for days.
MAX_MOVED_HOPS = 5
# InboundMessage.meta key: the conversation a channel's threading says this message answers
# (email In-Reply-To). It only reopens that conversation if it is this customer's latest one.
THREAD_HINT = "thread_conversation"
LAST_INBOUND_AUTOMATIC = "last_inbound_automatic"  # conversation field: "1" if the last inbound was automatic


@dataclass(frozen=True, slots=True)
class IngestResult:
    outcome: str  # opened, reopened, appended, rated (a CSAT answer on a resolved conversation), duplicate
    customer_id: CustomerId
    conversation_id: ConversationId
    message_id: MessageId
    queue: str = ""  # the conversation's queue after the message; "" while unrouted

    @property
    def duplicate(self) -> bool:
        return self.outcome == "duplicate"

    @property
    def rated(self) -> bool:
        """The message answered the conversation's satisfaction survey; the conversation stays resolved."""
        return self.outcome == "rated"

    @property
    def started(self) -> bool:
        """The message opened or reopened the conversation: time to route it."""
        return self.outcome in ("opened", "reopened")


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


class ConversationStore:
    def __init__(
        self,
        redis: Redis,
        *,
        reopen_window: timedelta = timedelta(days=7),
        dedupe_retention: timedelta = DEDUPE_RETENTION,
        replica_ack: ReplicaAck = ReplicaAck(),
    ) -> None:
        self.redis = redis
        self.reopen_window = reopen_window
        self.dedupe_retention = dedupe_retention
        self.replica_ack = replica_ack
        self._ingest = redis.register_script(INGEST_SCRIPT)
        self.index = BacklogIndex(redis)
        self.search = CustomerSearch(redis)

    # -- identities and customers -------------------------------------------------

    async def customer_for(self, identity: Identity) -> CustomerId | None:
        value = redisio.optional_text(await self.redis.get(keys.identity(identity.key)))
        return CustomerId(value) if value else None

    async def customer_for_key(self, identity_key: str) -> CustomerId | None:
        value = redisio.optional_text(await self.redis.get(keys.identity(identity_key)))
        return CustomerId(value) if value else None

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

    async def live_conversation_id(self, customer_id: str) -> ConversationId | None:
        """The customer's latest conversation (live, or resolved and still reopenable)."""
        value = redisio.optional_text(await self.redis.hget(keys.CustomerKeys(customer_id).customer, "live"))
        return ConversationId(value) if value else None

    async def customer_conversation_ids(self, customer_id: str) -> list[ConversationId]:
        history = await self.redis.lrange(keys.CustomerKeys(customer_id).conversations, 0, -1)
        return [ConversationId(c) for c in redisio.texts(history)]

    # -- ingest ----------------------------------------------------------------------

    async def ingest(self, message: InboundMessage, *, now: datetime | None = None) -> IngestResult:
        """Store one inbound message exactly once; see ``scripts/ingest.lua``."""
        now = now or datetime.now(UTC)
        customer_id, claimed = await claims.claim(self.redis, message.identity)
        try:
            return await self._ingest_as(message, now, customer_id)
        except BaseException:
            if claimed:  # the first message of a new identity failed: no claim may name nobody
                with contextlib.suppress(Exception):
                    await claims.unclaim(self.redis, message.identity, customer_id)
            raise

    async def _ingest_as(self, message: InboundMessage, now: datetime, customer_id: CustomerId) -> IngestResult:
        message_id = ids.message_id()
        stored = Message(
            id=MessageId(message_id),
            conversation_id=ConversationId(""),
            direction=Direction.INBOUND,
            channel=message.channel,
            author=message.name or message.identity.address,
            text=message.text,
            created_at=now,
            provider_id=message.provider_id,
            attachments=message.attachments,
            meta=message.stored_meta(),
        )
        stream_fields = [part for pair in codec.message_fields(stored).items() for part in pair]
        identities = [message.identity.key]
        # Whether the latest customer message was automatic: no survey goes to an auto-responder.
        conversation_facts = {**message.facts, LAST_INBOUND_AUTOMATIC: "1" if message.automatic else ""}
        facts = [part for pair in conversation_facts.items() for part in pair]
        # The script runs in the customer's slot, the index lives in another: the intent lets the
        # sweeper finish the index's sync if this process dies in between (index.py).
        intent = await self.index.intend("cust", customer_id)
        try:
            for _ in range(MAX_MOVED_HOPS):
                ck = keys.CustomerKeys(customer_id)
                outcome, conversation_id, stored_id, queue = await self._ingest(
                    keys=[ck.customer, ck.identities, ck.conversations, ck.seen, ck.seen_at],
                    args=[
                        ck.tag, customer_id, message.dedupe_key, ids.conversation_id(), message_id,
                        codec.to_ms(now), int(self.reopen_window.total_seconds() * 1000),
                        int(self.dedupe_retention.total_seconds() * 1000), message.name or "",
                        message.channel.value, message.subject or "", message.meta.get(THREAD_HINT, ""),
                        *ratings.script_args(message, now),
                        len(identities), *identities,
                        len(facts), *facts,
                        *stream_fields,
                    ],
                )
                if outcome != "moved":
                    break
                customer_id = CustomerId(conversation_id)  # the script returns the survivor's id
            else:
                raise RuntimeError(f"customer merge chain too long for {message.identity.key}")
        except BaseException:
            # Refused before anything was stored (or the sender retries, and the retry syncs the index).
            with contextlib.suppress(Exception):
                await self.index.forget(intent)
            raise
        result = IngestResult(outcome, customer_id, ConversationId(conversation_id), MessageId(stored_id), queue)
        fields = redisio.text_hash(await self.redis.hgetall(keys.CustomerKeys(customer_id).conversation(conversation_id)))
        if fields:
            await self.index.apply(entry_of(fields), intent=intent)
        # Outside the script: these keys are not in the customer's slot. The
        # writes are idempotent and repeated on every ingest, a duplicate
        # included: a first try that died after the script (Redis went away, the
        # sender got a 503) is completed by the sender's retry before it is
        # acknowledged. WAIT (when replicas must confirm) covers them, the index and the script.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.conversation_locator(conversation_id), customer_id)
            terms = term_members(customer_id, name=message.name or "", identities=[message.identity.key])
            if terms:  # a web chat visitor without a name has none
                pipe.zadd(keys.SEARCH_TERMS, terms)
            self._wait_for_replicas(pipe)
            await self._confirmed(pipe)
        if not result.duplicate:
            stored = replace(stored, conversation_id=result.conversation_id)
            await self.redis.publish(keys.conversation_events(conversation_id), _event_json(stored))
        return result

    async def confirm_replicated(self) -> None:
        """Wait until the replicas have every write made so far (when they must confirm); else NotReplicated.

        For acknowledgements whose writes were not the store's own (a consent keyword's
        script): WAIT needs a write on its connection, so it writes the probe key first.
        """
        if self.replica_ack.replicas > 0:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(keys.REPLICATION_PROBE, codec.to_ms(datetime.now(UTC)))
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

    # -- reads ----------------------------------------------------------------------

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

    async def find_by_provider_id(self, channel: str, provider_id: str) -> tuple[ConversationId, MessageId] | None:
        value = redisio.optional_text(await self.redis.get(keys.provider_message(channel, provider_id)))
        if not value:
            return None
        conversation_id, _, message_id = value.partition(" ")
        return ConversationId(conversation_id), MessageId(message_id)

    async def publish(self, conversation_id: str, messages: Iterable[Message]) -> None:
        """Tell every process (web chat sockets) about new messages of a conversation."""
        channel = keys.conversation_events(conversation_id)
        for message in messages:
            await self.redis.publish(channel, _event_json(message))

    async def ping(self) -> bool:
        return bool(await self.redis.ping())


def _write(pipe: Pipeline, ck: keys.CustomerKeys, conversation_id: str, change: Change,
           version: dict[str, int]) -> None:
    pipe.hset(ck.conversation(conversation_id), mapping={k: str(v) for k, v in {**change.fields, **version}.items()})
    if change.delete_fields:
        pipe.hdel(ck.conversation(conversation_id), *change.delete_fields)
    for message in change.messages:
        pipe.xadd(ck.messages(conversation_id), redisio.fields(codec.message_fields(message)))
    if change.delivery:
        pipe.hset(ck.delivery(conversation_id), mapping=redisio.fields(change.delivery))


def _event_json(message: Message) -> str:
    return json.dumps({"type": "message", "message": codec.message_json(message)})
