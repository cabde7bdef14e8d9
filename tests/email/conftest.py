"""Email fixtures: the app with its SMTP listener on a free port, the customer's SMTP sink, helpers."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import aiosmtplib
import fakeredis
import pytest

from channels.email.smtp import PORT_KEY
from gateway.appkeys import SERVICES
from tests.conftest import Backend, make_settings, start_client
from tests.email.sink import SinkServer
from workers import context

CORPUS = Path(__file__).parent / "corpus"
SUPPORT = "support@example.com"
MAILGUN_KEY = "key-test-mailgun-signing"
SENDGRID_SECRET = "sg-inbound-secret-123"
AUTO_REPLY = "Thanks for writing to us. We answer within one business day."
RULES_WITH_AUTO_REPLY = f"""
queues:
  service: {{}}
  support: {{}}
default:
  queue: service
  auto_reply: "{AUTO_REPLY}"
"""


@pytest.fixture
def sink():
    server = SinkServer()
    server.start()
    yield server.sink
    server.stop()


def email_settings(sink_port: int, **overrides):
    email = {
        "smtp_listen_host": "127.0.0.1", "smtp_listen_port": 0, "domains": ["example.com"],
        "max_message_bytes": 64 * 1024, "mailgun_signing_key": MAILGUN_KEY, "sendgrid_secret": SENDGRID_SECRET,
        "smtp_host": "127.0.0.1", "smtp_port": sink_port, "starttls": False, "from_address": SUPPORT,
        "domain": "example.com", **overrides.pop("email", {}),
    }
    return make_settings(email=email, **overrides)


async def email_gateway(aiohttp_client, settings, fake_server=None):
    backend = Backend(settings, fake_server or fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend = backend
    client.smtp_port = client.app[PORT_KEY]
    return client


@pytest.fixture
async def mail_gateway(aiohttp_client, sink):
    client = await email_gateway(aiohttp_client, email_settings(sink.port))
    yield client
    context.install(None)


@pytest.fixture
async def auto_reply_gateway(aiohttp_client, sink, tmp_path):
    rules = tmp_path / "routing.yaml"
    rules.write_text(RULES_WITH_AUTO_REPLY)
    client = await email_gateway(aiohttp_client, email_settings(sink.port, rules_path=rules))
    yield client
    context.install(None)


def customer_mail(text: str, *, sender: str = "Ada Lovelace <ada@customer.example>", to: str = SUPPORT,
                  subject: str = "My order did not arrive", message_id: str | None = None,
                  in_reply_to: str | None = None, references: str | None = None,
                  headers: dict[str, str] | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@customer.example>"
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = references
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(text)
    return mail


async def smtp_send(client, mail: EmailMessage | bytes, *, sender: str = "ada@customer.example",
                    recipients: list[str] | None = None):
    """Deliver to the gateway's SMTP listener like a customer's mail server would."""
    recipients = recipients or [SUPPORT]
    return await aiosmtplib.send(mail, sender=sender, recipients=recipients, hostname="127.0.0.1",
                                 port=client.smtp_port, start_tls=False)


def mailgun_fields(raw: bytes, *, key: str = MAILGUN_KEY, timestamp: int | None = None, token: str | None = None,
                   recipient: str = SUPPORT) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    token = token or uuid.uuid4().hex * 2
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"timestamp": str(timestamp), "token": token, "signature": signature, "recipient": recipient,
            "sender": "ada@customer.example", "body-mime": raw}


async def conversations(client) -> list[str]:
    return await client.app[SERVICES].store.recent_conversation_ids(limit=50)


async def timeline(client, conversation_id: str, direction: str | None = None):
    messages = await client.app[SERVICES].store.messages(conversation_id)
    return [m for m in messages if direction is None or m.direction == direction]


async def smtp_send_null_sender(client, mail: EmailMessage | bytes, recipients: list[str] | None = None) -> None:
    """``MAIL FROM:<>``, as bounces and many autoresponders send (aiosmtplib would take From instead)."""
    import asyncio
    import smtplib

    raw = mail if isinstance(mail, bytes) else mail.as_bytes()

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", client.smtp_port, timeout=10) as smtp:
            smtp.sendmail("", recipients or [SUPPORT], raw)

    await asyncio.to_thread(send)
