"""An SMTP server that records what it receives: the customer's mailbox, for outbound tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def __getitem__(self, name: str) -> str | None:
        value = self.message[name]
        return str(value) if value is not None else None

    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")

    def html(self) -> str:
        return self.message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")


@dataclass
class Sink:
    """aiosmtpd handler; ``rcpt_answers`` maps an address to the reply its RCPT gets (e.g. "550 ...")."""

    port: int = 0
    messages: list[Received] = field(default_factory=list)
    rcpt_answers: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self.rcpt_answers.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK: delivered"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]


class SinkServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.sink = Sink(port=self.port)
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
