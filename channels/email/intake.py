"""One inbound mail, whatever carried it (SMTP, Mailgun, SendGrid): parse, sort, thread, ingest.

Bounces become delivery failures of the message they bounce; our own mail
coming back is dropped; everything else is a customer message (automatic ones
flagged so nothing automatic answers them).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from channels.deps import ChannelDeps
from channels.email import authresults, threads
from channels.email.inbound import ParsedEmail, to_inbound
from channels.email.pool import MailParser
from channels.email.settings import EmailSettings
from conversations.clock import utcnow
from conversations.errors import NotFound
from conversations.attachments import derived_id
from conversations.models import Attachment, DeliveryStatus, Direction

log = logging.getLogger("gateway.email")


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # stored, duplicate, bounce, ignored
    conversation_id: str | None = None
    message_id: str | None = None
    detail: str = ""


def own_addresses(email: EmailSettings) -> frozenset[str]:
    return frozenset(a.lower() for a in (email.from_address,) if a)


def is_own(parsed: ParsedEmail, email: EmailSettings, secret_key: bytes) -> bool:
    """Mail from our own sending address or one of our reply addresses: never a customer."""
    if parsed.sender in own_addresses(email):
        return True
    return threads.conversation_from_address(parsed.sender, secret_key) is not None


async def record_bounce(deps: ChannelDeps, parsed: ParsedEmail) -> Outcome:
    bounce = parsed.bounce
    if bounce is None or not bounce.failed:
        return Outcome("ignored", detail=f"delivery report, action {bounce.action if bounce else 'unknown'}")
    for message_id in bounce.original_message_ids:
        found = await threads.lookup(deps.redis, message_id)
        if not found or not found[1]:
            continue
        conversation_id, stored_id = found
        try:
            message = await deps.store.message(conversation_id, stored_id)
        except NotFound:
            continue
        if message.direction != Direction.OUTBOUND:
            continue  # only our own mail can bounce back to us
        await deps.service.record_delivery(conversation_id, stored_id, DeliveryStatus.FAILED,
                                              error=bounce.describe())
        return Outcome("bounce", conversation_id, stored_id, bounce.describe())
    log.warning("bounce from %s matches none of our messages (%s)", parsed.sender,
                ", ".join(bounce.original_message_ids) or "no Message-ID")
    return Outcome("ignored", detail="bounce of an unknown message")


async def store_files(deps: ChannelDeps, dedupe_key: str, parsed: ParsedEmail) -> tuple[Attachment, ...]:
    """Each file into the attachment store before the message is ingested (its id is derived from the
    mail's dedupe key and the part's place, so a redelivered mail overwrites, never duplicates). A file
    the email limits refuse stays listed with the reason; the mail itself is never refused for it."""
    kept: list[Attachment] = []
    for index, (attachment, data) in enumerate(zip(parsed.attachments, parsed.files, strict=False)):
        if data is None:
            kept.append(attachment)
            continue
        kept.append(await deps.attachments.keep(
            "email", data, attachment.name, attachment_id=derived_id(deps.secret_key, f"{dedupe_key}:{index}"),
            declared_type=attachment.content_type))
    return tuple(kept)


async def receive(
    deps: ChannelDeps, email: EmailSettings, parser: MailParser, raw: bytes, *, envelope_from: str | None = None,
    recipients: Sequence[str] = (),
) -> Outcome:
    """Store one mail; returns once it is durably in Redis (or known not to need storing).

    The mail is read in a worker process (``parsing``); nothing is written before it was read.

    Raises:
        InvalidPayload: the mail has no sender address, or cannot be read (refuse it).
        ParserUnavailable: no parser worker could read it now (nothing stored; the sender retries).
    """
    parsed = await parser.parse(raw, envelope_from=envelope_from, recipients=recipients)
    if parsed.bounce is not None:
        return await record_bounce(deps, parsed)
    if is_own(parsed, email, deps.secret_key):
        return Outcome("ignored", detail="our own mail came back")
    unverified = authresults.dmarc_failure(parsed.authentication_results,
                                           authresults.trusted_ids(email.trust_authentication_results))
    if unverified:
        log.warning("mail claiming to be from %s failed DMARC; kept apart, flagged", parsed.sender)
    inbound = to_inbound(parsed, received_at=utcnow(), unverified=unverified)
    hint = await threads.thread_hint(
        deps.store, deps.redis, deps.secret_key, inbound.identity,
        recipients=parsed.recipients, in_reply_to=parsed.in_reply_to, references=parsed.references,
    )
    if hint:
        inbound = to_inbound(parsed, received_at=inbound.received_at, thread_conversation=hint, unverified=unverified)
    inbound = replace(inbound, attachments=await store_files(deps, inbound.dedupe_key, parsed))
    result = await deps.service.ingest(inbound)  # the threading facts go in with the message
    if result.duplicate:
        return Outcome("duplicate", result.conversation_id, result.message_id)
    if parsed.message_id:
        # A global index (not in the customer's slot): idempotent, so a crash before it only costs
        # a later bounce or reply its Message-ID match; the reply address still threads it.
        await threads.remember(deps.redis, parsed.message_id, result.conversation_id, result.message_id)
    return Outcome("stored", result.conversation_id, result.message_id, result.outcome)
