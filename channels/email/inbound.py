"""Raw MIME → ``ParsedEmail`` → ``InboundMessage``. Pure; never raises on a malformed message.

Standard library parsing with ``policy.default``; what cannot be read is
listed in ``problems`` (stored on the message as ``meta["parse_problems"]``)
and the rest is kept. The only refusal is a mail with no sender address at
all, since it cannot belong to any customer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import Message
from email.utils import getaddresses

from conversations.messages import SENDER_UNVERIFIED, SIGNATURE, InboundMessage, InvalidPayload
from channels.email import authresults, body, loops, threads
from channels.email.bounces import Bounce, read_bounce
from channels.email.forwards import Forwarded, with_forwards
from channels.email.original import FORWARDED_KEY, ORIGINAL_KEY, original_parts
from channels.email.threads import MAX_REFERENCES, message_ids
from conversations.addresses import normalize_email
from conversations.errors import InvalidRequest
from conversations.models import Attachment, Channel, Identity

RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")
MAX_SUBJECT_CHARS = 500
MAX_ATTACHMENTS = 100  # a mail of 30,000 one-byte parts must not become 30,000 lines in the timeline


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    sender: str  # normalized From address (or the envelope sender when From is unusable)
    name: str | None
    message_id: str | None
    subject: str | None
    text: str  # the customer's new words: no quoted history, no signature
    full_text: str  # the whole readable body, quotes and signature included
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    recipients: tuple[str, ...]  # envelope recipients, then To/Cc/Delivered-To addresses
    attachments: tuple[Attachment, ...]
    verdict: loops.Verdict
    bounce: Bounce | None
    digest: str  # sha256 of the raw bytes: the dedupe key of a mail without a Message-ID
    problems: tuple[str, ...] = ()
    reply_to: str | None = None
    html_only: bool = False
    meta: dict[str, str] = field(default_factory=dict)
    signature: str = ""  # shown collapsed to agents, never routed on
    forwards: tuple[Forwarded, ...] = ()  # mails the customer forwarded (in the body or attached), kept whole
    original: str = ""  # JSON: the headers and every part as received (``original.original_parts``)
    authentication_results: tuple[str, ...] = ()  # the Authentication-Results values, top first
    # The decoded bytes of each of ``attachments`` (same order; None: unreadable or not a file); the
    # intake stores them in the attachment store before the message is ingested.
    files: tuple[bytes | None, ...] = ()


class _ParsedOnce(HeaderRegistry):
    """``policy.default``'s header factory, remembering what it parsed for the one mail it reads.

    ``policy.default`` parses a header again every time it is read: ``get_content_type`` alone
    re-parses ``Content-Type`` (the feed parser, the body search, the attachment and original-parts
    walks each ask), ~50 header parses per ordinary mail and three quarters of its parse time.
    Header objects are immutable, so one per (name, value) is the same answer for a fraction of the
    cost. One registry per mail: the memory is bounded by the mail's own headers.
    """

    def __init__(self) -> None:
        super().__init__()
        self._parsed: dict[tuple[str, str], BaseHeader] = {}

    def __call__(self, name: str, value: str) -> BaseHeader:
        key = (name, value)
        header = self._parsed.get(key)
        if header is None:
            header = self._parsed[key] = super().__call__(name, value)
        return header


def _decoded_raw(raw: object) -> str:
    try:
        return " ".join(str(make_header(decode_header(str(raw)))).split())
    except Exception:
        return " ".join(str(raw).split())


def header_values(msg: Message, name: str) -> list[str]:
    """Every value of a header as readable text; one the modern parser chokes on is decoded the old way."""
    try:
        return [" ".join(str(value).split()) for value in msg.get_all(name) or ()]
    except Exception:
        return [_decoded_raw(raw) for key, raw in msg.raw_items() if key.lower() == name.lower()]


def header(msg: Message, name: str) -> str:
    values = header_values(msg, name)
    return values[0] if values else ""


def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, normalized address) pairs from every copy of the header; unusable ones dropped."""
    found = []
    for display, address in getaddresses(header_values(msg, name)):
        try:
            found.append((display.strip(), normalize_email(address)))
        except InvalidRequest:
            continue
    return found


def _leaves(part: Message) -> Iterator[Message]:
    """Every non-multipart part; an attached message (forwarded mail) is one leaf, not opened."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        yield part
        return
    payload = part.get_payload()
    for sub in payload if isinstance(payload, list) else ():
        if isinstance(sub, Message):  # a multipart's payload is its list of parts
            yield from _leaves(sub)


def _size(part: Message) -> int | None:
    try:
        if part.get_content_type() == "message/rfc822":
            return len(part.as_bytes())
        payload = part.get_payload(decode=True)
        return len(payload) if isinstance(payload, bytes) else None
    except Exception:
        return None


def attached_forwards(msg: Message) -> tuple[Forwarded, ...]:
    """Mails attached whole (message/rfc822, Outlook's "forward as attachment"): sender, date, subject, text."""
    found = []
    for part in _leaves(msg):
        if part is msg or part.get_content_type() != "message/rfc822":
            continue
        inner = part.get_payload()
        if not isinstance(inner, list) or not inner or not isinstance(inner[0], Message):
            continue
        text, _ = body.extract_text(inner[0])
        found.append(Forwarded(header(inner[0], "From"), header(inner[0], "Date"), header(inner[0], "Subject"), text))
    return tuple(found)


def attachments(msg: Message, text_part: Message | None) -> tuple[Attachment, ...]:
    """Metadata of every file (the first ``MAX_ATTACHMENTS``): name, type, size."""
    return tuple(attachment for attachment, _ in attachment_parts(msg, text_part))


def _payload(part: Message) -> bytes | None:
    try:
        if part.get_content_type() == "message/rfc822":
            return part.as_bytes()
        payload = part.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else None
    except Exception:
        return None


def attachment_parts(msg: Message, text_part: Message | None) -> list[tuple[Attachment, bytes | None]]:
    """Every file (the first ``MAX_ATTACHMENTS``) with its decoded bytes (None when they cannot be read)."""
    found: list[tuple[Attachment, bytes | None]] = []
    for part in _leaves(msg):
        if len(found) == MAX_ATTACHMENTS:
            found.append((Attachment(name="(more attachments not listed)", content_type="text/plain"), None))
            break
        if part is text_part or part is msg and part.get_content_maintype() == "text":
            continue
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        if disposition != "attachment" and not filename and part.get_content_maintype() == "text":
            continue  # an alternative body (the HTML twin of the plain text), not a file
        if not filename and part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            attached = inner[0] if isinstance(inner, list) and inner else None
            subject = header(attached, "Subject") if isinstance(attached, Message) else ""
            filename = f"{subject or 'message'}.eml"
        found.append((Attachment(name=filename or f"unnamed.{part.get_content_subtype()}",
                                 content_type=part.get_content_type(), size=_size(part)), _payload(part)))
    return found


def parse_email(raw: bytes, *, envelope_from: str | None = None, recipients: Sequence[str] = ()) -> ParsedEmail:
    """Read one message as it arrived (SMTP DATA, Mailgun ``body-mime``, SendGrid ``email``).

    Args:
        raw: the message bytes.
        envelope_from: SMTP ``MAIL FROM`` ("" = null sender), when the transport says.
        recipients: SMTP ``RCPT TO`` addresses, when the transport says.

    Raises:
        InvalidPayload: neither a From nor an envelope sender address can be read.
    """
    msg = message_from_bytes(raw, policy=policy.default.clone(header_factory=_ParsedOnce()))
    # Defects of every part: a broken base64 attachment is recorded on the part, not the message.
    problems = list(dict.fromkeys(type(d).__name__ for part in msg.walk() for d in part.defects))[:10]
    from_pairs = addresses(msg, "From")
    name, sender = from_pairs[0] if from_pairs else ("", "")
    if not sender and envelope_from:
        try:
            sender = normalize_email(envelope_from)
            problems.append("no usable From header; used the envelope sender")
        except InvalidRequest:
            pass
    if not sender:
        raise InvalidPayload("the message has no sender address")

    verdict = loops.classify(msg, sender=sender, envelope_from=envelope_from)
    text_part = body.find_text_part(msg) if verdict.kind != loops.Kind.BOUNCE else None
    full_text, body_problems = body.extract_text(msg)
    problems += body_problems
    message_id = next(iter(message_ids(header(msg, "Message-ID"))), None)
    seen = list(recipients)
    for name_ in RECIPIENT_HEADERS:
        seen += [address for _, address in addresses(msg, name_)]
    reply_to = addresses(msg, "Reply-To")
    subject = header(msg, "Subject")[:MAX_SUBJECT_CHARS] or None
    split = body.split_body(full_text, subject)
    forwards = split.forwards
    if verdict.kind != loops.Kind.BOUNCE:  # a bounce attaches our own mail: not a forward
        forwards += attached_forwards(msg)
    parts = attachment_parts(msg, text_part)
    return ParsedEmail(
        sender=sender,
        name=name or None,
        message_id=message_id,
        subject=subject,
        text=split.text,
        full_text=full_text,
        in_reply_to=tuple(message_ids(header(msg, "In-Reply-To"))),
        references=tuple(message_ids(header(msg, "References"))[-MAX_REFERENCES:]),
        recipients=tuple(dict.fromkeys(a.lower() for a in seen)),
        attachments=tuple(attachment for attachment, _ in parts),
        files=tuple(data for _, data in parts),
        verdict=verdict,
        bounce=read_bounce(msg) if verdict.kind == loops.Kind.BOUNCE else None,
        digest=hashlib.sha256(raw).hexdigest(),
        problems=tuple(problems),
        reply_to=reply_to[0][1] if reply_to else None,
        html_only=text_part is not None and text_part.get_content_subtype() == "html",
        signature=split.signature,
        forwards=forwards,
        original=original_parts(msg, raw),
        authentication_results=tuple(header_values(msg, "Authentication-Results")[:authresults.MAX_HEADERS]),
    )


def to_inbound(parsed: ParsedEmail, *, received_at: datetime, thread_conversation: str | None = None,
               unverified: str | None = None) -> InboundMessage:
    """The customer message to ingest; ``thread_conversation`` comes from ``threads.thread_hint``.

    ``unverified`` (why the sender is not proven, from ``authresults``) stores the mail under an
    identity of its own, flagged: it never reaches the claimed customer's conversations.
    """
    meta = {
        "message_id": parsed.message_id or "",
        "in_reply_to": " ".join(parsed.in_reply_to),
        "references": " ".join(parsed.references),
        "reply_to": parsed.reply_to or "",
        "parse_problems": "; ".join(parsed.problems),
        "sender_kind": parsed.verdict.kind.value if parsed.verdict.automatic else "",
        "automatic_reason": parsed.verdict.reason,
        "html_only": "1" if parsed.html_only else "",
        "thread_conversation": thread_conversation or "",
        SIGNATURE: parsed.signature,
        FORWARDED_KEY: json.dumps([{"sender": f.sender, "date": f.date, "subject": f.subject}
                                 for f in parsed.forwards], ensure_ascii=False) if parsed.forwards else "",
        ORIGINAL_KEY: parsed.original,
        SENDER_UNVERIFIED: unverified or "",
    }
    # Routing and agents read the new words and any forwarded mail (the context the
    # customer brought); the quoted history and the signature stay in full_text/meta.
    text = with_forwards(parsed.text, parsed.forwards)
    if not text and parsed.attachments:
        text = "(attachments only)"
    return InboundMessage(
        channel=Channel.EMAIL,
        identity=Identity(Channel.EMAIL, authresults.unverified_address(parsed.sender) if unverified else parsed.sender),
        provider_id=parsed.message_id or f"sha256:{parsed.digest}",
        text=text,
        received_at=received_at,
        name=parsed.name,
        subject=parsed.subject,
        full_text=parsed.full_text,
        attachments=parsed.attachments,
        meta={key: value for key, value in meta.items() if value},
        automatic=parsed.verdict.automatic,
        facts={**conversation_facts(parsed), **({SENDER_UNVERIFIED: unverified} if unverified else {})},
    )


def conversation_facts(parsed: ParsedEmail) -> dict[str, str]:
    """What the conversation keeps for threading our answers: the latest Message-ID, References, subject."""
    facts = {threads.LAST_AUTOMATIC: "1" if parsed.verdict.automatic else ""}
    if parsed.message_id:
        facts[threads.LAST_MESSAGE_ID] = parsed.message_id
        facts[threads.REFERENCES] = " ".join(parsed.references)
    if parsed.subject and not parsed.verdict.automatic:
        facts[threads.SUBJECT] = parsed.subject
    return facts
