"""Settings from the environment (prefix ``GATEWAY_``, groups joined by ``__``).

The top-level settings are declared here; each channel's group and the
workers' group are declared in their own package (``channels/<name>/settings.py``,
``workers/settings.py``) and composed here, so every part reads only its own
group. ``.env.example`` lists every name.
"""

from __future__ import annotations

import json
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from channels.email.settings import EmailSettings
from channels.slack.settings import SlackSettings
from channels.sms.settings import TwilioSettings
from channels.webchat.settings import WebchatSettings
from gateway.attachment_settings import AttachmentSettings
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
    # Redis topologies (docs/OPERATIONS.md, built in gateway/redis_clients.py). Sentinel: the
    # sentinels' host:port list and the master's service name; GATEWAY_REDIS_URL then only
    # lends its password and database number.
    redis_sentinels: Annotated[tuple[str, ...], NoDecode] = ()
    redis_sentinel_master: str | None = None
    # Cluster: the conversation data on a Redis Cluster (GATEWAY_REDIS_URL names any node);
    # RQ cannot run on one, so its queues need GATEWAY_QUEUE_REDIS_URL.
    redis_cluster: bool = False
    # RQ's Redis (jobs and queues only); default: the data Redis.
    queue_redis_url: str | None = None
    # Replicas that must confirm an inbound message (Redis WAIT) before it is acknowledged.
    redis_min_replicas_ack: int = Field(0, ge=0)
    redis_replica_ack_timeout_ms: int = Field(1000, ge=1)
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
    # Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the
    # client; empty: the peer address is the client (anyone could write the header).
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()

    webchat: WebchatSettings = Field(default_factory=WebchatSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return tuple(ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())
            except ValueError as error:
                raise ValueError(f"not an address or network: {error}") from None
        return value

    @field_validator("redis_sentinels", mode="before")
    @classmethod
    def _sentinel_list(cls, value: object) -> object:
        """Comma-separated ``host:port`` (a JSON list works too); each one checked."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [p for p in text.split(",") if p.strip()]
        if isinstance(value, (list, tuple)):
            for address in value:
                host, _, port = str(address).strip().rpartition(":")
                if not host or not port.isdigit() or not 0 < int(port) < 65536:
                    raise ValueError(f"{address!r} is not host:port")
            return tuple(str(address).strip() for address in value)
        return value

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [(host, int(port)) for host, _, port in (a.rpartition(":") for a in self.redis_sentinels)]

    @property
    def redis_configured(self) -> bool:
        """A real Redis is named (a URL or sentinels); otherwise only the demo's embedded one exists."""
        return bool(self.redis_url or self.redis_sentinels)

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
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = [f"{env_name(e['loc'])}: {e['msg']}" for e in error.errors()]
        raise SettingsError("invalid setting " + "; ".join(lines)) from None
    problem = redis_topology_problem(settings)
    if problem:
        raise SettingsError("invalid setting " + problem)
    return settings


def redis_topology_problem(settings: Settings) -> str | None:
    """What does not fit together among the Redis settings, naming the variable; None when all is well."""
    if settings.redis_sentinels and not settings.redis_sentinel_master:
        return "GATEWAY_REDIS_SENTINEL_MASTER: required with GATEWAY_REDIS_SENTINELS (the monitored master's name)"
    if settings.redis_sentinel_master and not settings.redis_sentinels:
        return "GATEWAY_REDIS_SENTINELS: required with GATEWAY_REDIS_SENTINEL_MASTER (comma-separated host:port)"
    if settings.redis_cluster:
        if settings.redis_sentinels:
            return "GATEWAY_REDIS_CLUSTER: a cluster fails over by itself; unset GATEWAY_REDIS_SENTINELS"
        if not settings.redis_url:
            return "GATEWAY_REDIS_URL: required with GATEWAY_REDIS_CLUSTER=true (any node of the cluster)"
        if not settings.queue_redis_url:
            return ("GATEWAY_QUEUE_REDIS_URL: required with GATEWAY_REDIS_CLUSTER=true (RQ needs a Redis that is not "
                    "a cluster)")
        if settings.redis_min_replicas_ack:
            return "GATEWAY_REDIS_MIN_REPLICAS_ACK: not supported on a Redis Cluster; use Sentinel or one Redis"
    for name, url in (("GATEWAY_REDIS_URL", settings.redis_url), ("GATEWAY_QUEUE_REDIS_URL", settings.queue_redis_url)):
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            return f"{name}: {url!r} is not a Redis URL (redis://host:port/db, rediss:// or unix://)"
    return None
