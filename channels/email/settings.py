"""GATEWAY_EMAIL__*: inbound (SMTP listener, Mailgun, SendGrid) and outbound SMTP.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from channels.settingtypes import Mailbox


class EmailSettings(BaseModel):
    # Inbound SMTP listener (inside the web process); off while the port is unset. The host
    # defaults to the web process's GATEWAY_HOST (one bind rule; the gateway fills it in).
    smtp_listen_host: str | None = None
    smtp_listen_port: int | None = None
    # Domains we accept mail for; anything else is refused (no open relay).
    domains: list[str] = Field(default_factory=list)
    max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    mailgun_signing_key: SecretStr | None = None
    sendgrid_secret: SecretStr | None = None
    # The receiving MTA's authserv-id(s), comma-separated: its Authentication-Results header is believed,
    # and a mail it says failed DMARC is kept apart and flagged (channels/email/authresults.py).
    trust_authentication_results: str | None = None
    # Mail is parsed in worker processes (channels/email/parsing.py), never on the event loop.
    parse_workers: int = Field(default=2, ge=1, le=64)
    parse_seconds: float = Field(default=30.0, gt=0)  # CPU seconds; a mail that needs more to be read is refused
    # Outbound SMTP.
    smtp_host: str | None = None
    smtp_port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    use_tls: bool = False
    from_address: Mailbox | None = None
    domain: str | None = None  # Message-ID and reply-address domain

    # Each way in and out is on when its own settings are filled; the channel is on when one way in is.
    @property
    def smtp_listener(self) -> bool:
        return self.smtp_listen_port is not None

    @property
    def mailgun(self) -> bool:
        return _filled(self.mailgun_signing_key)

    @property
    def sendgrid(self) -> bool:
        return _filled(self.sendgrid_secret)

    @property
    def outbound(self) -> bool:
        return _filled(self.smtp_host) and _filled(self.from_address)

    def missing(self) -> list[str]:
        """What to set for a way in, when there is none (names within the group)."""
        if self.smtp_listener or self.mailgun or self.sendgrid:
            return []
        return ["SMTP_LISTEN_PORT, __MAILGUN_SIGNING_KEY or __SENDGRID_SECRET"]

    @property
    def configured(self) -> bool:
        return not self.missing()


def _filled(value: str | SecretStr | None) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return bool(value and value.strip())
