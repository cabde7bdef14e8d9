"""Settings from the environment (prefix ``GATEWAY_``, groups joined by ``__``).

The top-level settings are declared here; each channel's group and the
workers' group are declared in their own package (``channels/<name>/settings.py``,
``workers/settings.py``) and composed here, so every part reads only its own
group. ``.env.example`` lists every name.

How values are read, for every setting alike (``gateway/envvalues.py``):
an empty value means "not set" (free text excepted); a list is written ``a,b`` or as a JSON
array; a bad value, or several, stops the start with one line naming each
variable; an unknown ``GATEWAY_…`` name is reported with the closest known one.
"""

from __future__ import annotations

import json
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from redis.connection import parse_url

from channels.email.settings import EmailSettings
from channels.settingtypes import WebUrl
from gateway.agent_settings import AuditSettings, parse_agent_tokens
from channels.slack.settings import SlackSettings
from channels.sms.settings import TwilioSettings
from channels.webchat.settings import WebchatSettings
from gateway import envvalues
from workers.proactive_settings import ProactiveSettings
from workers.retention import RetentionSettings
from gateway.attachment_settings import AttachmentSettings
from gateway.performance_settings import IngestSettings, RedisPoolSettings
from workers.settings import WorkerSettings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _redis_url(value: str) -> str:
    """A URL redis-py can open: redis://, rediss:// or unix://, with a numeric port."""
    if "://" not in value:
        raise ValueError(f"{value!r} has no scheme: write redis://{value or 'HOST:6379'}"
                         f"{'' if '/' in value else '/0'} (or rediss://, unix://)")
    try:
        parse_url(value)  # type: ignore[no-untyped-call]  # redis-py's URL parser is untyped
    except ValueError as error:
        raise ValueError(f"{value!r}: {error}") from None
    return value


RedisUrl = Annotated[str, AfterValidator(_redis_url)]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                     BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v)]
LogFormat = Annotated[Literal["text", "json"], BeforeValidator(lambda v: v.strip().lower() if isinstance(v, str) else v)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",  # unknown names are reported by envvalues.unknown_names, with the closest known one
        enable_decoding=False,  # lists: `a,b` or JSON, parsed by _lists below, errors named by variable
    )

    # Unset: the embedded in-process store (demo only; nothing is persisted).
    redis_url: RedisUrl | None = None
    # Redis topologies (docs/OPERATIONS.md, built in gateway/redis_clients.py). Sentinel: the
    # sentinels' host:port list and the master's service name; GATEWAY_REDIS_URL then only
    # lends its password and database number.
    redis_sentinels: tuple[str, ...] = ()
    redis_sentinel_master: str | None = None
    # Cluster: the conversation data on a Redis Cluster (GATEWAY_REDIS_URL names any node);
    # RQ cannot run on one, so its queues need GATEWAY_QUEUE_REDIS_URL.
    redis_cluster: bool = False
    # RQ's Redis (jobs and queues only); default: the data Redis.
    queue_redis_url: RedisUrl | None = None
    # Replicas that must confirm an inbound message (Redis WAIT) before it is acknowledged.
    redis_min_replicas_ack: int = Field(0, ge=0)
    redis_replica_ack_timeout_ms: int = Field(1000, ge=1)
    # One bind rule for every listener: the web process and the SMTP listener bind GATEWAY_HOST
    # (loopback by default); GATEWAY_EMAIL__SMTP_LISTEN_HOST overrides it for SMTP alone.
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # The URL providers call us at (Twilio signs it); defaults to http://host:port.
    public_url: WebUrl | None = None
    rules_path: Path = Path("routing.yaml")
    rules_reload_seconds: float = Field(default=2.0, gt=0)  # how often processes look for an edited rule file
    # Response templates (docs/TEMPLATES.md); unset: templates.yaml beside the rule file. Reloaded like the rules.
    templates_path: Path | None = None
    admin_token: SecretStr | None = None
    # Per-agent API tokens, "name:token" pairs comma-separated (docs/AGENTS.md); only digests are kept.
    agent_tokens: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict, repr=False)
    # Signs web chat visitor tokens and reply addresses; must be shared by all web processes.
    secret_key: SecretStr | None = None
    reopen_window: timedelta = timedelta(days=7)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"
    # How long a running web process waits for requests in flight when told to stop.
    shutdown_timeout_seconds: float = Field(default=20.0, ge=0)
    # Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the
    # client; empty: the peer address is the client (anyone could write the header).
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    # The web process's event loop: uvloop when installed ("auto"), or always the standard one.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"

    webchat: WebchatSettings = Field(default_factory=WebchatSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    proactive: ProactiveSettings = Field(default_factory=ProactiveSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)  # GATEWAY_RETENTION__* (docs/DATA.md)
    attachments: AttachmentSettings = Field(default_factory=AttachmentSettings)
    redis_pool: RedisPoolSettings = Field(default_factory=RedisPoolSettings)  # GATEWAY_REDIS_POOL__*
    ingest: IngestSettings = Field(default_factory=IngestSettings)  # GATEWAY_INGEST__* (docs/PERFORMANCE.md)

    @field_validator("agent_tokens", mode="before")
    @classmethod
    def _agent_token_pairs(cls, value: object) -> object:
        return parse_agent_tokens(value)

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        return envvalues.parse_lists(cls, data)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty: write 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)")
        return value.strip()

    @model_validator(mode="after")
    def _one_bind_rule(self) -> Settings:
        if self.email.smtp_listen_host is None:
            self.email = self.email.model_copy(update={"smtp_listen_host": self.host})
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        parts = value.split(",") if isinstance(value, str) else value
        if isinstance(parts, (list, tuple)):
            try:
                return tuple(ip_network(str(part).strip(), strict=False) for part in parts if str(part).strip())
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
    def templates_file(self) -> Path:
        return self.templates_path or self.rules_path.parent / "templates.yaml"

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
    """Read settings, turning validation errors into one line naming every bad variable.

    ``GATEWAY_SECRETS_DIR`` names a directory of files named after variables
    (``GATEWAY_SECRET_KEY`` …), as Docker and Kubernetes mount secrets; the
    environment and ``.env`` take precedence over them.
    """
    secrets_dir = envvalues.secrets_dir()
    if secrets_dir is not None and "_secrets_dir" not in overrides:
        if not secrets_dir.is_dir():
            raise SettingsError(f"invalid setting {envvalues.SECRETS_DIR}: {str(secrets_dir)!r} is not a directory")
        overrides["_secrets_dir"] = secrets_dir
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = [envvalues.describe_error(env_name(e["loc"]), e) for e in error.errors()]
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


def known_names() -> frozenset[str]:
    """Every variable the settings read (and the groups' own names, for JSON-valued groups)."""
    return envvalues.variable_names(Settings, "GATEWAY_") | {envvalues.SECRETS_DIR}
