"""The inbound SMTP listener (aiosmtpd), run inside the web process's event loop.

Accepts mail only for our domains (no open relay), refuses mail over the size
limit (552, from aiosmtpd's ``data_size_limit``), and answers 250 only after
the message is stored; a storage failure answers 451 so the sending server
tries again later. The mail is read in a worker process (``pool``): a mail
that cannot be read (no sender, nested too deep, over the parse budget) is
refused with 550, so the sender gives up instead of retrying it for days.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.deps import CHANNEL_DEPS, ChannelDeps
from channels.email import intake
from channels.email.pool import PARSER, MailParser, ParserUnavailable
from channels.email.settings import EmailSettings
from channels.email.webhooks import SETTINGS
from conversations.messages import InvalidPayload

log = logging.getLogger("gateway.email.smtp")

MAX_RECIPIENTS = 100  # RFC 5321 4.5.3.1.8: at least 100 must be accepted; more is a spammer's list
PORT_KEY: web.AppKey[int] = web.AppKey("email_smtp_port")  # the port actually bound (the setting may be 0)


def accepted_domains(email: EmailSettings) -> frozenset[str]:
    """``GATEWAY_EMAIL__DOMAINS``, else the domain of the reply addresses we hand out."""
    domains = [d.lower().strip() for d in email.domains]
    if not domains and email.domain:
        domains = [email.domain.lower()]
    if not domains and email.from_address:
        domains = [email.from_address.rpartition("@")[2].lower()]
    return frozenset(d for d in domains if d)


class Handler:
    """aiosmtpd hooks: RCPT (which mailboxes we take) and DATA (store, then answer)."""

    def __init__(self, deps: ChannelDeps, email: EmailSettings, parser: MailParser) -> None:
        self.deps = deps
        self.email = email
        self.parser = parser
        self.domains = accepted_domains(email)

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        if not _utf8(address):
            # Bytes that are not UTF-8 (RFC 6531) could be neither stored nor answered: refused for good
            # now, instead of a "try again" (451) after the whole mail was sent.
            return "553 5.1.7 The sender address is not valid UTF-8"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not _utf8(address):
            return "553 5.1.3 The recipient address is not valid UTF-8"
        domain = address.rpartition("@")[2].strip().rstrip(".").lower()
        if domain not in self.domains:
            return "550 5.7.1 Relaying denied: we only accept mail for our own domains"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"  # RFC 5321: the client sends the rest in another mail
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        if content is None:  # aiosmtpd sets the content before this hook; nothing to store without it
            log.error("no content in the envelope of mail from %s", envelope.mail_from)
            return "451 4.3.0 Temporary failure storing the message, try again later"
        raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else bytes(content)
        # aiosmtpd reports the null sender of bounces and autoresponders as "<>".
        envelope_from = "" if envelope.mail_from in (None, "", "<>") else envelope.mail_from
        try:
            outcome = await intake.receive(self.deps, self.email, self.parser, raw, envelope_from=envelope_from,
                                           recipients=envelope.rcpt_tos)
        except InvalidPayload as error:
            return f"550 5.6.0 {error}"
        except ParserUnavailable as error:
            log.warning("could not read mail from %s: %s", envelope.mail_from, error)
            return "451 4.3.0 Temporary failure reading the message, try again later"
        except Exception:
            log.exception("could not store mail from %s", envelope.mail_from)
            return "451 4.3.0 Temporary failure storing the message, try again later"
        log.info("mail from %s: %s %s", envelope.mail_from, outcome.kind, outcome.conversation_id or "")
        return "250 2.0.0 OK: stored"


# A SIZE= that is not ASCII digits ("SIZE=²" passes str.isdigit): aiosmtpd's int() raised, logged an error
# and told the client the exception.
_BAD_SIZE = re.compile(r"(?i)\bSIZE=(?![0-9]+(?:\s|$))")


YIELD_AFTER_SECONDS = 0.005  # the longest the SMTP reader keeps the event loop while lines are buffered


def _yielding(readuntil: Callable[..., Awaitable[bytes]]) -> Callable[..., Awaitable[bytes]]:
    """``readuntil`` that lets the event loop run at least every ``YIELD_AFTER_SECONDS``.

    aiosmtpd reads DATA line by line; while the socket has data buffered, ``readuntil``
    returns without ever yielding, so a 25 MB mail arriving fast held the loop (and every
    /healthz, webhook and socket of this process) for hundreds of milliseconds at a time.
    """
    last = time.perf_counter()

    async def readuntil_yielding(separator: bytes = b"\n") -> bytes:
        nonlocal last
        if time.perf_counter() - last > YIELD_AFTER_SECONDS:
            await asyncio.sleep(0)
            last = time.perf_counter()
        return await readuntil(separator)

    return readuntil_yielding


class GatewaySMTP(SMTP):
    def _cb_client_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super()._cb_client_connected(reader, writer)
        reader.readuntil = _yielding(reader.readuntil)  # type: ignore[method-assign,assignment]

    async def smtp_MAIL(self, arg: str) -> None:
        if arg and _BAD_SIZE.search(arg.rpartition(">")[2]):  # the parameters, after the address
            await self.push("501 5.5.4 SIZE takes a number of bytes")
            return
        await super().smtp_MAIL(arg)


def _utf8(address: str) -> bool:
    """aiosmtpd hands over bytes that are not UTF-8 as surrogates (surrogateescape)."""
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def listener(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: serve SMTP while the app runs, when ``GATEWAY_EMAIL__SMTP_LISTEN_PORT`` is set."""
    email = app[SETTINGS]
    if not email.smtp_listener:
        yield
        return
    handler = Handler(app[CHANNEL_DEPS], email, app[PARSER])
    if not handler.domains:
        log.warning("SMTP listener refuses every recipient: set GATEWAY_EMAIL__DOMAINS")
    hostname = email.domain or socket.getfqdn()
    host = email.smtp_listen_host or "127.0.0.1"  # the gateway fills in GATEWAY_HOST; never "every interface" by omission
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: GatewaySMTP(handler, hostname=hostname, data_size_limit=email.max_message_bytes,
                     enable_SMTPUTF8=True, decode_data=False, ident="gateway"),
        host, email.smtp_listen_port,
    )
    app[PORT_KEY] = server.sockets[0].getsockname()[1]
    log.info("SMTP listener on %s:%s", host, app[PORT_KEY])
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
