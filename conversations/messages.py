"""The messages that cross the edge: what a channel adapter produces and consumes, and its errors.

These are domain values: the store, the service and the router read them, and
every channel writes them, so they live in the core, below all of those.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from conversations.models import Attachment, Channel, Identity


# Message meta keys any channel may write and any reader (admin API, Slack console) may show.
FULL_TEXT = "full_text"  # the whole original body, quoted history included, when ``text`` is shorter
SIGNATURE = "signature"  # the sender's signature: kept out of ``text`` (never routed on), shown collapsed
# Why the sender's address is not proven (email: a trusted Authentication-Results says dmarc=fail); also a
# conversation fact. Agents' views show such messages flagged.
SENDER_UNVERIFIED = "sender_unverified"


class InvalidPayload(ValueError):
    """A provider payload that cannot be read: answered 400 with the reason."""


class InvalidSignature(PermissionError):
    """A request whose signature does not verify: answered 401/403, nothing stored."""


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer message, normalized from any channel.

    Attributes:
        channel: the channel it arrived on.
        identity: the address it came from; decides the customer.
        provider_id: the provider's id for this message (Twilio MessageSid,
            Slack event/client id, email Message-ID, web chat client id);
            the dedupe key, unique within the channel.
        text: the customer's words, quotes and signatures already stripped:
            what routing reads (a word in the quoted history never routes).
        linked: further identities proven to belong to the same person (a
            verified web chat identifier's email, say); ingest links them.
        name: a display name, when the channel carries one.
        subject: email subject, when there is one.
        full_text: the unstripped original, when stripping removed anything.
        meta: channel facts worth keeping (email Message-ID, References,
            Twilio To number, Slack channel/thread ts, ``SIGNATURE``); strings only.
        automatic: the sender is a machine (auto-reply, bulk mail): never
            auto-answer it.
        facts: channel facts the conversation keeps from its latest message
            (the number the customer texted, an email's Message-ID and
            References, a Slack DM's thread); written by the same atomic
            ingest that stores the message, never in a second step.
    """

    channel: Channel
    identity: Identity
    provider_id: str
    text: str
    received_at: datetime
    linked: tuple[Identity, ...] = ()
    name: str | None = None
    subject: str | None = None
    full_text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)
    automatic: bool = False
    facts: dict[str, str] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        return f"{self.channel.value}:{self.provider_id}"

    def stored_meta(self) -> dict[str, str]:
        """The meta the stored timeline entry keeps: the channel's, the subject, the full text, automatic."""
        meta = dict(self.meta)
        if self.subject:
            meta["subject"] = self.subject
        if self.full_text and self.full_text != self.text:
            meta[FULL_TEXT] = self.full_text
        if self.automatic:
            meta["automatic"] = "1"
        return meta


@dataclass(frozen=True, slots=True)
class OutboundFile:
    """A stored file going to a customer: a signed URL every channel can link (Twilio fetches MMS media
    from it), and the bytes for channels that attach them (email)."""

    name: str
    content_type: str
    size: int
    url: str
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """An agent's (or automatic) message on its way to one customer address."""

    message_id: str
    conversation_id: str
    channel: Channel
    to: Identity
    text: str
    author: str
    subject: str | None = None
    automatic: bool = False
    # Channel-specific threading facts from the conversation (email
    # In-Reply-To/References, Slack channel and thread ts, ...).
    meta: dict[str, str] = field(default_factory=dict)
    files: tuple[OutboundFile, ...] = ()


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider said. ``provider_id`` lets status callbacks find the message."""

    provider_id: str | None = None
    delivered: bool = False  # the provider confirmed delivery synchronously (web chat)
    meta: dict[str, str] = field(default_factory=dict)


class TransientSendError(Exception):
    """The provider may accept it later (timeouts, 429, 5xx): retry with backoff."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentSendError(Exception):
    """The provider will never accept it (invalid number, rejected address): fail now."""
