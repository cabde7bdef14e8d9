"""Settings from the environment (prefix ``GATEWAY_``, groups joined by ``__``).

The top-level settings are declared here; each channel's group and the
workers' group are declared in their own package (``channels/<name>/settings.py``,
``workers/settings.py``) and composed here, so every part reads only its own
group. ``.env.example`` lists every name.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from channels.email.settings import EmailSettings
from channels.slack.settings import SlackSettings
from channels.sms.settings import TwilioSettings
from channels.webchat.settings import WebchatSettings
from workers.settings import WorkerSettings


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
    port: int = Field(default=8080, ge=0, le=65535)
    # The URL providers call us at (Twilio signs it); defaults to http://host:port.
    public_url: str | None = None
    rules_path: Path = Path("routing.yaml")
    rules_reload_seconds: float = Field(default=2.0, gt=0)  # how often processes look for an edited rule file
    admin_token: SecretStr | None = None
    # Signs web chat visitor tokens and reply addresses; must be shared by all web processes.
    secret_key: SecretStr | None = None
    reopen_window: timedelta = timedelta(days=7)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = "INFO"
    # The web process's event loop: uvloop when installed ("auto"), or always the standard one.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"

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
