"""Storing one inbound message: the ingest script and the global writes after it, in two round trips.

Per message, on one Redis (or a Sentinel primary):

1. the backlog index's intent and the ingest script (``scripts/ingest.lua``),
   pipelined: the script answers the conversation hash as it left it;
2. the index sync, the conversation locator, the search terms, the caller's
   extra writes (the SLA dirty mark, a channel's own marks: commands handed in
   as data, so this layer imports nothing above it), the event ``PUBLISH`` and
   ``WAIT`` when replicas must confirm, pipelined.

Both go through the process's group commit (``groupcommit.py``), so the
messages being stored at the same moment share their round trips (unless
``group_commit`` is off: then each message sends its own two pipelines). The customer
id comes from the process's identity cache when it is known
(``identity_cache.py``); only a new identity costs its claim.

On a Redis Cluster the same writes go out one slot at a time (the intent and
the index in ``{ix}``'s slot, the script in the customer's, the rest where
their keys live), as before.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from redis.asyncio import Redis

from conversations import claims, codec, ids, keys, ratings
from conversations.backlog import entry_of
from conversations.clock import now_ms
from conversations.errors import Erasing, NotReplicated
from conversations.groupcommit import Command, GroupCommit
from conversations.identity_cache import IdentityCache
from conversations.index import SYNC_SCRIPT, BacklogIndex, intent_command, intent_member, sync_arguments
from conversations.messages import InboundMessage
from conversations.models import ConversationId, CustomerId, Direction, Message, MessageId
from conversations.search import term_members

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


# Writes that go out with a stored message's own (same round trip): commands as data, e.g.
# ("ZADD", "gw:timers:dirty", ms, conversation id). Repeated for a duplicate too, so a first
# try that died after its script is completed by the retry; they must be idempotent.
ExtraWrites = Callable[[IngestResult], Sequence[Command]]


@dataclass(frozen=True, slots=True)
class IngestOptions:
    reopen_window: timedelta
    dedupe_retention: timedelta
    replicas: int = 0  # WAIT for this many replicas before acknowledging (0: the primary is enough)
    replica_timeout_ms: int = 1000


class Ingest:
    """The ingest path of one process (one per ``ConversationStore``)."""

    def __init__(self, redis: Redis, index: BacklogIndex, options: IngestOptions,
                 extra_writes: Sequence[ExtraWrites] = (), identity_cache: IdentityCache | None = None,
                 group_commit: bool = True) -> None:
        self.redis = redis
        self.index = index
        self.options = options
        self.extra_writes = list(extra_writes)
        self.identities = identity_cache if identity_cache is not None else IdentityCache()
        self._script = redis.register_script(INGEST_SCRIPT)
        # A cluster spreads the keys of one message over several nodes: no shared pipeline there.
        self.group = None if index.cluster else GroupCommit(redis, [INGEST_SCRIPT, SYNC_SCRIPT], shared=group_commit)

    async def __call__(self, message: InboundMessage, now: datetime, also: ExtraWrites | None = None) -> IngestResult:
        """Store one inbound message exactly once; ``also``: this caller's extra writes."""
        key = message.identity.key
        customer_id = self.identities.get(key)
        cached = customer_id is not None
        for _ in range(2):
            claimed = False
            if customer_id is None:
                customer_id, claimed = await claims.claim(self.redis, message.identity)
            try:
                stored = await self._store(message, now, customer_id, cached)
            except BaseException:
                self.identities.forget(key)
                if claimed:  # the first message of a new identity failed: no claim may name nobody
                    with contextlib.suppress(Exception):
                        await claims.unclaim(self.redis, message.identity, customer_id)
                raise
            if stored is not None:
                self.identities.remember(key, stored.result.customer_id)
                await self._after(message, stored, now, also)
                return stored.result
            # "gone": the customer is erased or being erased. A cached id: ask Redis who owns the
            # identity now (a new customer once the erasure released it).
            self.identities.forget(key)
            if not cached:
                break
            customer_id, cached = None, False
        raise Erasing(f"the customer of {key} is being erased; retry in a moment")

    # -- the script ----------------------------------------------------------------------

    async def _store(self, message: InboundMessage, now: datetime, customer_id: CustomerId,
                     cached: bool) -> "_Stored | None":
        """Run the script (following merges); None if the customer is gone."""
        message_id = ids.message_id()
        stored = Message(
            id=MessageId(message_id), conversation_id=ConversationId(""), direction=Direction.INBOUND,
            channel=message.channel, author=message.name or message.identity.address, text=message.text,
            created_at=now, provider_id=message.provider_id, attachments=message.attachments,
            meta=message.stored_meta(),
        )
        stream_fields = [part for pair in codec.message_fields(stored).items() for part in pair]
        # Whether the latest customer message was automatic: no survey goes to an auto-responder.
        facts = {**message.facts, LAST_INBOUND_AUTOMATIC: "1" if message.automatic else ""}
        fact_values = [part for pair in facts.items() for part in pair]
        rating = ratings.script_args(message, now)
        options = self.options
        for _ in range(MAX_MOVED_HOPS):
            ck = keys.CustomerKeys(customer_id)
            script_keys = [ck.customer, ck.identities, ck.conversations, ck.seen, ck.seen_at]
            args: list[str | int] = [
                ck.tag, customer_id, message.dedupe_key, ids.conversation_id(), message_id, codec.to_ms(now),
                int(options.reopen_window.total_seconds() * 1000), int(options.dedupe_retention.total_seconds() * 1000),
                message.name or "", message.channel.value, message.subject or "", message.meta.get(THREAD_HINT, ""),
                *rating[:2], "1" if cached else "", *rating[2:],
                1, message.identity.key,
                len(fact_values), *fact_values,
                *stream_fields,
            ]
            # The script runs in the customer's slot, the index lives in another: the intent lets the
            # sweeper finish the index's sync if this process dies in between (index.py).
            intent = intent_member("cust", customer_id)
            reply = await self._run_script(intent, script_keys, args)
            outcome = str(reply[0])
            if outcome == "gone":
                await self._forget_intent(intent)
                return None
            if outcome == "duplicate" and reply[2] == message_id:
                # Our own write: the client resent the script after a dropped connection (redis-py's
                # retry). Not a sender's duplicate: publish it and route it if its conversation is
                # unrouted, as the first answer would have. Its exact first outcome is lost; "appended"
                # routes an unrouted conversation all the same (service.ingest).
                outcome = "appended"
            if outcome != "moved":
                result = IngestResult(outcome, customer_id, ConversationId(reply[1]), MessageId(reply[2]), reply[3])
                return _Stored(result, replace(stored, conversation_id=result.conversation_id),
                               _hash(reply[4]), intent)
            await self._forget_intent(intent)
            customer_id = CustomerId(reply[1])  # the script returns the survivor's id
            cached = False
        raise RuntimeError(f"customer merge chain too long for {message.identity.key}")

    async def _run_script(self, intent: str, script_keys: list[str], args: list[str | int]) -> Any:
        try:
            if self.group is not None:
                replies = await self.group.run([intent_command(intent),
                                                self.group.evalsha(INGEST_SCRIPT, script_keys, args)])
                return replies[1]
            await self.redis.zadd(keys.INDEX_INTENTS, {intent: now_ms()})
            return await self._script(keys=script_keys, args=args)
        except BaseException:
            # Refused before anything was stored (or the sender retries, and the retry syncs the index).
            with contextlib.suppress(Exception):
                await self._forget_intent(intent)
            raise

    async def _forget_intent(self, intent: str) -> None:
        await self.index.forget(intent)

    # -- after the script -----------------------------------------------------------------

    async def _after(self, message: InboundMessage, stored: _Stored, now: datetime,
                     also: ExtraWrites | None) -> None:
        """The writes outside the customer's slot, idempotent and repeated for a duplicate too.

        A first try that died after the script (Redis went away, the sender got a 503) is completed
        by the sender's retry before it is acknowledged. WAIT (when replicas must confirm) covers
        them, the index and the script.
        """
        result = stored.result
        customer_id, conversation_id = result.customer_id, result.conversation_id
        writes: list[Command] = [("SET", keys.conversation_locator(conversation_id), customer_id)]
        terms = term_members(customer_id, name=message.name or "", identities=[message.identity.key])
        if terms:  # a web chat visitor without a name has none
            writes.append(("ZADD", keys.SEARCH_TERMS, *(part for term in terms for part in (0, term))))
        for extra in [*self.extra_writes, *([also] if also else [])]:
            writes += extra(result)
        if not result.duplicate:
            writes.append(("PUBLISH", keys.conversation_events(conversation_id), _event_json(stored.message)))
        wait = (self.options.replicas, self.options.replica_timeout_ms) if self.options.replicas > 0 else None
        entry = entry_of(stored.fields) if stored.fields else None
        if self.group is not None:
            if entry is not None:
                sync_keys, sync_args = sync_arguments(entry, stored.intent)
                writes.insert(0, self.group.evalsha(SYNC_SCRIPT, sync_keys, sync_args))
            else:
                writes.insert(0, ("ZREM", keys.INDEX_INTENTS, stored.intent))
            replies = await self.group.run(writes, wait=wait)
        else:
            if wait:
                writes.append(("WAIT", *wait))
            if entry is not None:
                await self.index.apply(entry, intent=stored.intent)
            else:
                await self._forget_intent(stored.intent)
            publish = [w for w in writes if w[0] == "PUBLISH"]
            async with self.redis.pipeline(transaction=False) as pipe:
                for command in writes:
                    if command[0] != "PUBLISH":  # PUBLISH names no key: a cluster pipeline cannot route it
                        pipe.execute_command(*command)
                replies = await pipe.execute()
            for command in publish:
                await self.redis.publish(str(command[1]), str(command[2]))
        if self.options.replicas > 0 and int(replies[-1]) < self.options.replicas:
            raise NotReplicated(f"{replies[-1]} of {self.options.replicas} replicas confirmed the write within "
                                f"{self.options.replica_timeout_ms} ms; retry later")


@dataclass(frozen=True, slots=True)
class _Stored:
    result: IngestResult
    message: Message  # as stored, with its conversation
    fields: dict[str, str]  # the conversation hash after the script
    intent: str


def _hash(flat: Any) -> dict[str, str]:
    if isinstance(flat, dict):  # RESP3 may hand a map
        return {str(k): str(v) for k, v in flat.items()}
    values = [str(v) for v in flat or ()]
    return dict(zip(values[::2], values[1::2], strict=True))


def event_json(message: Message) -> str:
    return json.dumps({"type": "message", "message": codec.message_json(message)})


_event_json = event_json
