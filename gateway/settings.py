"""Settings from the environment (prefix ``GATEWAY_``, groups joined by ``__``).

Every group is declared here, one place for an operator to read; ``.env.example``
lists the same names.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebchatSettings(BaseModel):
    # HMAC key the site uses to compute identifier_hash; unset = no verified identities.
    identity_secret: SecretStr | None = None
    max_message_chars: int = Field(4000, ge=1)
    max_frame_bytes: int = Field(16 * 1024, ge=256)
    frames_per_second: float = Field(5.0, gt=0)
    frame_burst: int = Field(10, ge=1)
    heartbeat_seconds: float = Field(25.0, gt=0)


class TwilioSettings(BaseModel):
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    # Where the official client sends API calls; tests and regional endpoints change it.
    api_base_url: str | None = None
    default_region: str = "US"  # for numbers written without a country code


class EmailSettings(BaseModel):
    # Inbound SMTP listener (inside the web process); off while the port is unset.
    smtp_listen_host: str = "0.0.0.0"
    smtp_listen_port: int | None = None
    # Domains we accept mail for; anything else is refused (no open relay).
    domains: list[str] = Field(default_factory=list)
    max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    mailgun_signing_key: SecretStr | None = None
    sendgrid_secret: SecretStr | None = None
    # Outbound SMTP.
    smtp_host: str | None = None
    smtp_port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    use_tls: bool = False
    from_address: str | None = None
    domain: str | None = None  # Message-ID and reply-address domain


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_base_url: str | None = None  # e.g. http://127.0.0.1:9000/api/ in tests
    # Slack channels whose members are customers (Slack Connect); DMs to the app always are.
    customer_channels: list[str] = Field(default_factory=list)


class WorkerSettings(BaseModel):
    # How often the SLA sweeper looks for due timers.
    sweep_interval_seconds: float = Field(0.5, gt=0)
    outbound_max_attempts: int = Field(6, ge=1)
    # A provider call longer than this counts as a transient failure; keep it below the lock.
    send_timeout_seconds: float = Field(20.0, gt=0)
    # Per-conversation delivery lock; a crashed holder blocks its conversation this long at most.
    outbound_lock_seconds: float = Field(30.0, gt=0)
    # An outbound message queued or sending for this long with nobody delivering is re-enqueued.
    outbound_stuck_seconds: float = Field(30.0, gt=0)
    # RQ's abandoned-job check (default 600 s); our own sweeps recover faster, this is the backstop.
    maintenance_interval_seconds: int = Field(60, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    # Unset: the embedded in-process store (demo only; nothing is persisted).
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # The URL providers call us at (Twilio signs it); defaults to http://host:port.
    public_url: str | None = None
    rules_path: Path = Path("routing.yaml")
    rules_reload_seconds: float = Field(2.0, gt=0)  # how often processes look for an edited rule file
    admin_token: SecretStr | None = None
    # Signs web chat visitor tokens and reply addresses; must be shared by all web processes.
    secret_key: SecretStr | None = None
    reopen_window: timedelta = timedelta(days=7)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    log_level: str = "INFO"

    webchat: WebchatSettings = Field(default_factory=WebchatSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        return f"http://{self.host}:{self.port}"


class SettingsError(SystemExit):
    """A bad setting, named by its environment variable, in one line."""


def env_name(loc: tuple[str | int, ...]) -> str:
    return "GATEWAY_" + "__".join(str(part).upper() for part in loc)


def load_settings(**overrides: object) -> Settings:
    """Read settings, turning a validation error into one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = [f"{env_name(e['loc'])}: {e['msg']}" for e in error.errors()]
        raise SettingsError("invalid setting " + "; ".join(lines)) from None
