"""Consent: addresses that asked us to send them nothing more (an SMS STOP), and the keyword events.

An opt-out belongs to the address, not to the customer record: carriers and
Twilio block a phone number, and the person who texted STOP holds that number
whoever our records say they are. So it is one key per identity
(``gw:optout:<identity key>``), like the identity's own key: a merge, a
re-link of the identity to another customer or a restart changes nothing, and
checking it before a send is one ``GET`` with the address the message goes to.

Every outbound message, an agent's or an automatic one (auto-replies, and
whatever automatic message comes later), is checked against it: see
``ConversationService.reply`` and the outbound job.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from redis.asyncio import Redis

from conversations import codec, keys, redisio
from conversations.models import Channel, ConversationId, CustomerId, Identity, Message, MessageId

EVENT_SCRIPT = resources.files("conversations").joinpath("scripts/customer_event.lua").read_text()
MAX_MOVED_HOPS = 5
CHANNEL_NAMES = {Channel.SMS: "SMS", Channel.EMAIL: "email", Channel.SLACK: "Slack", Channel.WEBCHAT: "web chat"}


class Request(enum.StrEnum):
    """What a consent keyword asks for."""

    OPT_OUT = "opt_out"  # send me nothing more (STOP)
    OPT_IN = "opt_in"  # you may write to me again (START)
    HELP = "help"  # who are you and how do I stop (HELP)


@dataclass(frozen=True, slots=True)
class OptOut:
    """One address's opt-out.

    Attributes:
        identity: the address that opted out.
        at: when we learned it.
        via: what the customer did, as agents should read it (``texted "STOP"``).
        resume: how the customer opts back in (``texts START``), for the agent's reason.
    """

    identity: Identity
    at: datetime
    via: str
    resume: str = "opts back in"

    @property
    def reason(self) -> str:
        """Why a message to this address is refused: what an agent reads on the failed delivery."""
        channel = CHANNEL_NAMES.get(self.identity.channel, self.identity.channel.value)
        return (f"not sent: {self.identity.address} opted out of {channel} ({self.via} on "
                f"{self.at:%Y-%m-%d %H:%M} UTC); nothing is sent to it until the customer {self.resume}")

    def to_json(self) -> str:
        return json.dumps({"at": codec.to_ms(self.at), "via": self.via, "resume": self.resume})

    @classmethod
    def from_json(cls, identity: Identity, raw: str) -> OptOut:
        data = json.loads(raw)
        at = codec.from_ms(data["at"])
        assert at is not None
        return cls(identity=identity, at=at, via=data.get("via", ""), resume=data.get("resume") or "opts back in")

    def public(self) -> dict[str, str | None]:
        """The admin API's shape."""
        return {"channel": self.identity.channel.value, "address": self.identity.address,
                "opted_out_at": codec.iso(self.at), "via": self.via}


@dataclass(frozen=True, slots=True)
class EventResult:
    outcome: str  # recorded, duplicate
    customer_id: CustomerId
    conversation_id: ConversationId | None  # the conversation whose timeline shows it; None without one
    message_id: MessageId

    @property
    def duplicate(self) -> bool:
        return self.outcome == "duplicate"


EVENT_KINDS = {Request.OPT_OUT: "opted_out", Request.OPT_IN: "opted_in", Request.HELP: "help"}


@dataclass(frozen=True, slots=True)
class KeywordOutcome:
    """What a consent keyword did.

    Attributes:
        duplicate: the provider sent this message before; nothing changed now.
        changed: the address's opt-out was recorded (STOP) or cleared (START) by this message.
        opted_out: the address's opt-out after the message.
        answer: the text to answer the customer with (the help text), if any.
        conversation_id: the conversation whose timeline shows the event; None when the customer has none.
    """

    duplicate: bool
    changed: bool
    opted_out: OptOut | None
    answer: str | None
    conversation_id: ConversationId | None = None


def event_text(request: Request, identity: Identity, *, via: str, changed: bool, opted_out: OptOut | None,
               help_text: str, answered: bool) -> str:
    """The timeline line agents read for a keyword; pure."""
    channel = CHANNEL_NAMES.get(identity.channel, identity.channel.value)
    if request == Request.OPT_OUT:
        if changed or opted_out is None:
            resume = opted_out.resume if opted_out else "opts back in"
            return (f"Customer opted out of {channel}: {via} from {identity.address}. Nothing is sent to this "
                    f"address until the customer {resume}.")
        return (f"Customer {via} from {identity.address} again; opted out of {channel} since "
                f"{opted_out.at:%Y-%m-%d %H:%M} UTC.")
    if request == Request.OPT_IN:
        if changed:
            return f"Customer opted back in to {channel}: {via} from {identity.address}. Replies reach it again."
        return f"Customer {via} from {identity.address}; they had not opted out of {channel}, nothing changes."
    if answered:
        return f"Customer {via} from {identity.address}; the help text was sent: “{help_text}”"
    if opted_out is not None:
        return f"Customer {via} from {identity.address}; opted out of {channel}, so no help text was sent."
    return f"Customer {via} from {identity.address}; no help text is configured, so the gateway sent nothing."


class ConsentStore:
    """The opt-out keys, and the keyword events on the customer's timeline."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._event = redis.register_script(EVENT_SCRIPT)

    async def opt_out(self, identity: Identity) -> OptOut | None:
        raw = redisio.optional_text(await self.redis.get(keys.opt_out(identity.key)))
        return OptOut.from_json(identity, raw) if raw else None

    async def opt_outs(self, identities: Iterable[Identity]) -> list[OptOut]:
        """The opt-outs among ``identities``, in the order given."""
        wanted = list(identities)
        if not wanted:
            return []
        # One round trip of GETs, not MGET: the keys live in different slots on a Redis Cluster.
        async with self.redis.pipeline(transaction=False) as pipe:
            for identity in wanted:
                pipe.get(keys.opt_out(identity.key))
            values = await pipe.execute()
        return [OptOut.from_json(identity, redisio.text(raw)) for identity, raw in zip(wanted, values, strict=True)
                if raw]

    async def record(self, opt_out: OptOut) -> bool:
        """Record an opt-out; the first one stays (a second STOP changes nothing). True if new."""
        return bool(await self.redis.set(keys.opt_out(opt_out.identity.key), opt_out.to_json(), nx=True))

    async def clear(self, identity: Identity) -> bool:
        """The address opted back in. True if it had opted out."""
        return bool(await self.redis.delete(keys.opt_out(identity.key)))

    async def seen(self, customer_id: str, dedupe_key: str) -> bool:
        """Whether a provider message was already accepted by this customer (or the one it merged into)."""
        for _ in range(MAX_MOVED_HOPS):
            ck = keys.CustomerKeys(customer_id)
            if await self.redis.hexists(ck.seen, dedupe_key):
                return True
            merged = redisio.optional_text(await self.redis.hget(ck.customer, "merged_into"))
            if not merged:
                return False
            customer_id = merged
        return False

    async def record_event(self, customer_id: CustomerId, identity: Identity, dedupe_key: str, event: Message, *,
                           name: str = "") -> EventResult:
        """Append ``event`` to the customer's latest conversation once; see ``scripts/customer_event.lua``."""
        fields = [part for pair in codec.message_fields(event).items() for part in pair]
        for _ in range(MAX_MOVED_HOPS):
            ck = keys.CustomerKeys(customer_id)
            outcome, conversation_id, message_id = await self._event(
                keys=[ck.customer, ck.identities, ck.seen, ck.seen_at],
                args=[ck.tag, customer_id, dedupe_key, codec.to_ms(event.created_at), name, identity.key, event.id,
                      *fields],
            )
            if outcome != "moved":
                return EventResult(outcome, customer_id, ConversationId(conversation_id) if conversation_id else None,
                                   MessageId(message_id))
            customer_id = CustomerId(conversation_id)  # the script returns the survivor's id
        raise RuntimeError(f"customer merge chain too long for {identity.key}")
