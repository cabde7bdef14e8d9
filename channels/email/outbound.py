"""Outbound email through SMTP with aiosmtplib, threaded so the customer's mail client keeps one thread.

Every mail carries a ``Message-ID`` derived from our message id (a retried
send reuses it, so the customer's client sees one mail), ``In-Reply-To`` and
``References`` from the customer's last mail, the conversation's signed reply
address as ``Reply-To``, and the subject with ``Re:``. Automatic mail carries
``Auto-Submitted: auto-replied`` and is never sent to a machine (RFC 3834).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
from redis.asyncio import Redis

from channels.email import authresults, threads
from channels.email.keys import auto_marker, sent_marker
from channels.email.settings import EmailSettings
from conversations.messages import OutboundMessage, PermanentSendError, SendResult, TransientSendError
from conversations.models import Channel
from conversations.ratings import QUESTION, QUESTION_META

log = logging.getLogger("gateway.email")

SMTP_TIMEOUT = 30.0
SENT_MARKER_TTL = 7 * 24 * 3600
# RFC 3834: the same automatic answer goes to one address at most once in this long.
AUTO_REPLY_WINDOW = 4 * 24 * 3600
REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|réf|ref|rif)\s*:", re.IGNORECASE)
FALLBACK_SUBJECT = "Your conversation with us"


def reply_subject(subject: str | None) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        return FALLBACK_SUBJECT
    return subject if REPLY_PREFIX.match(subject) else f"Re: {subject}"


def to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!DOCTYPE html><html><body style="font-family: sans-serif">{body}</body></html>'


def compose(message: OutboundMessage, *, from_address: str, domain: str, secret: bytes) -> EmailMessage:
    """The MIME message for one outbound message; pure."""
    mail = EmailMessage()
    mail["From"] = from_address
    mail["To"] = authresults.delivery_address(message.to.address)
    subject = message.meta.get(threads.SUBJECT) or message.subject
    last = message.meta.get(threads.LAST_MESSAGE_ID)
    # We write first (a proactive message, the customer never mailed in this conversation): no "Re:".
    first = message.meta.get("proactive") == "1" and not last
    mail["Subject"] = (" ".join((subject or "").split()) or FALLBACK_SUBJECT) if first else reply_subject(subject)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{message.message_id}@{domain}>"
    mail["Reply-To"] = threads.reply_address(from_address, domain, secret, message.conversation_id)
    if last:
        chain = [*threads.message_ids(" ".join(f"<{r}>" for r in message.meta.get(threads.REFERENCES, "").split())),
                 last]
        chain = list(dict.fromkeys(chain))[-threads.MAX_REFERENCES:]
        mail["In-Reply-To"] = f"<{last}>"
        mail["References"] = " ".join(f"<{r}>" for r in chain)
    if message.automatic:
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"  # asks Exchange not to answer with its own autoreply
    mail.set_content(message.text)
    mail.add_alternative(to_html(message.text), subtype="html")
    for file in message.files:
        if file.data is None:  # not fetched for us: a link is all we have
            continue
        maintype, _, subtype = file.content_type.partition("/")
        mail.add_attachment(file.data, maintype=maintype, subtype=subtype or "octet-stream", filename=file.name)
    return mail


class EmailSender:
    channel = Channel.EMAIL

    def __init__(self, email: EmailSettings, redis: Redis, secret: bytes) -> None:
        assert email.smtp_host and email.from_address
        self.settings = email
        self.redis = redis
        self.secret = secret
        self.from_address = email.from_address
        self.domain = email.domain or email.from_address.rpartition("@")[2]

    async def suppressed(self, message: OutboundMessage) -> str | None:
        """Why an automatic mail must not go out (RFC 3834), or None."""
        if not message.automatic:
            return None
        if message.to.address.startswith(authresults.UNVERIFIED_PREFIX):
            return "not sent: the sender failed DMARC, so the address may not be theirs (no backscatter)"
        if message.meta.get(threads.LAST_AUTOMATIC) == "1":
            return "not sent: the customer's last mail was automatic (RFC 3834)"
        # A survey question is asked once per conversation on an agent's resolve, never in answer to a
        # mail, so it cannot loop: a customer with two conversations this week is asked about each.
        survey = message.meta.get(QUESTION_META) == QUESTION
        if not survey and await self.redis.exists(auto_marker(message.to.address, message.text)):
            return "not sent: this automatic answer already went to this address recently (RFC 3834)"
        return None

    async def send(self, message: OutboundMessage) -> SendResult:
        header_id = f"{message.message_id}@{self.domain}"
        if await self.redis.get(sent_marker(message.message_id)):
            return SendResult(provider_id=header_id)
        reason = await self.suppressed(message)
        if reason:
            raise PermanentSendError(reason)
        mail = compose(message, from_address=self.from_address, domain=self.domain, secret=self.secret)
        # Before sending: the customer's answer (or a bounce) may arrive before the job records it.
        await threads.remember(self.redis, header_id, message.conversation_id, message.message_id)
        try:
            await aiosmtplib.send(
                mail, sender=self.from_address, recipients=[authresults.delivery_address(message.to.address)],
                hostname=self.settings.smtp_host, port=self.settings.smtp_port,
                username=self.settings.username,
                password=self.settings.password.get_secret_value() if self.settings.password else None,
                start_tls=self.settings.starttls and not self.settings.use_tls, use_tls=self.settings.use_tls,
                timeout=SMTP_TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [r.code for r in error.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
            if all(400 <= code < 500 for code in codes):
                raise TransientSendError(f"recipient deferred: {detail}") from error
            raise PermanentSendError(f"recipient refused: {detail}") from error
        except aiosmtplib.SMTPResponseException as error:
            if 400 <= error.code < 500:
                raise TransientSendError(f"SMTP {error.code} {error.message}") from error
            raise PermanentSendError(f"SMTP {error.code} {error.message}") from error
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as error:
            raise TransientSendError(f"cannot reach the SMTP server: {error}") from error
        await self.redis.set(sent_marker(message.message_id), header_id, ex=SENT_MARKER_TTL)
        if message.automatic:
            await self.redis.set(auto_marker(message.to.address, message.text), "1", ex=AUTO_REPLY_WINDOW)
        return SendResult(provider_id=header_id)

    async def close(self) -> None:
        """Nothing held open: each send opens its own SMTP connection."""


def from_settings(email: EmailSettings, redis: Redis, secret: bytes) -> EmailSender | None:
    """A sender when the SMTP host and the from address are configured."""
    if not email.outbound:
        return None
    return EmailSender(email, redis, secret)
