"""GATEWAY_EMAIL__*: inbound (SMTP listener, Mailgun, SendGrid) and outbound SMTP.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class EmailSettings(BaseModel):
    # Inbound SMTP listener (inside the web process); off while the port is unset.
    smtp_listen_host: str = "0.0.0.0"
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
    from_address: str | None = None
    domain: str | None = None  # Message-ID and reply-address domain
