"""Every Redis client the gateway makes, built from settings in one place.

Three topologies (docs/OPERATIONS.md says when to use which):

- one Redis: ``GATEWAY_REDIS_URL``;
- Sentinel: ``GATEWAY_REDIS_SENTINELS`` + ``GATEWAY_REDIS_SENTINEL_MASTER``; every
  client asks the sentinels for the current primary and asks again after a
  failover (redis-py's ``master_for``);
- Cluster: ``GATEWAY_REDIS_CLUSTER=true``, the conversation data on a Redis
  Cluster (``GATEWAY_REDIS_URL`` names any node) and RQ on
  ``GATEWAY_QUEUE_REDIS_URL``, an ordinary Redis (RQ does not support Cluster).

Three roles: ``data()`` (async, decoded strings) holds every ``gw:`` key and
publishes events; ``pubsub()`` (async) is the web chat hub's subscriber;
``queue()`` (sync, raw bytes) is RQ's connection. The lower layers receive
these clients and never build their own.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import BlockingConnectionPool
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialWithJitterBackoff
from redis.connection import parse_url
from redis.retry import Retry as SyncRetry
from redis.sentinel import Sentinel as SyncSentinel

from conversations.atomic import close_node_clients
from gateway.settings import Settings

# Fail fast while Redis is away: a webhook answers 503 within a second or two (the provider
# retries) instead of hanging; a failover is followed on the next try.
CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 5.0
SENTINEL_TIMEOUT = 0.5
RETRIES = 3
BACKOFF = {"base": 0.05, "cap": 0.5}



class BlockingSentinelConnectionPool(SentinelConnectionPool, BlockingConnectionPool):
    """The Sentinel master's pool, waiting for a free connection like ``BlockingConnectionPool``.

    redis-py ships no such pool; the Sentinel pool only decides where to connect
    (``get_master_address``) and the blocking pool only how to hand connections out,
    so the two combine (``SentinelConnectionPool.__init__`` passes ``max_connections``
    and ``timeout`` on to ``BlockingConnectionPool``).
    """


def _retry() -> Retry:
    return Retry(ExponentialWithJitterBackoff(**BACKOFF), RETRIES)


def _url_options(url: str | None) -> dict[str, Any]:
    """Password, user name and database of a URL (what a Sentinel set-up takes from GATEWAY_REDIS_URL)."""
    if not url:
        return {}
    parsed = parse_url(url)  # type: ignore[no-untyped-call]
    return {key: parsed[key] for key in ("username", "password", "db") if parsed.get(key) is not None}


class RedisClients:
    """Makes the process's Redis clients from settings; each call returns a new client the caller closes."""

    def __init__(self, settings: Settings) -> None:
        if not settings.redis_configured:
            raise RuntimeError("GATEWAY_REDIS_URL is not set; workers need a Redis server (or run `gateway demo`)")
        self.settings = settings
        self._sentinel: Sentinel | None = None
        self._sync_sentinel: SyncSentinel | None = None

    # -- the data Redis ------------------------------------------------------------------

    def data(self) -> Redis:
        """Every ``gw:`` key: conversations, identities, timers, locks; publishes events.

        Typed as ``Redis`` for its users: a ``RedisCluster`` answers every command
        the gateway sends (transactions go through ``conversations.atomic``).
        """
        options: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": CONNECT_TIMEOUT,
                                   "socket_timeout": COMMAND_TIMEOUT, "retry": _retry()}
        settings = self.settings
        pool = settings.redis_pool
        if settings.redis_cluster:
            assert settings.redis_url is not None  # checked with the settings
            # Per node; redis-py's async cluster client has no waiting pool: past it, MaxConnectionsError (503).
            return cast(Redis, RedisCluster.from_url(settings.redis_url, max_connections=pool.max_connections,
                                                     **options))
        # Past max_connections a command waits up to wait_seconds for a free connection (then 503),
        # where the default pool would refuse at once under a burst.
        waiting: dict[str, Any] = {"max_connections": pool.max_connections, "timeout": pool.wait_seconds}
        if settings.redis_sentinels:
            master = self._sentinels().master_for(self._master(), connection_pool_class=BlockingSentinelConnectionPool,
                                                  **options, **waiting, **_url_options(settings.redis_url))
            return cast(Redis, master)
        assert settings.redis_url is not None
        return Redis.from_pool(BlockingConnectionPool.from_url(settings.redis_url, **options, **waiting))

    def pubsub(self) -> Redis:
        """The web chat hub's subscriber connection.

        On a cluster, classic pub/sub reaches every node, so the hub subscribes
        on the node GATEWAY_REDIS_URL names (a plain connection: redis-py's
        cluster pub/sub cannot follow the hub's growing subscriptions).
        """
        settings = self.settings
        if settings.redis_cluster:
            assert settings.redis_url is not None
            return Redis.from_url(settings.redis_url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT,
                                  retry=_retry())
        return self.data()

    # -- RQ's Redis ------------------------------------------------------------------------

    def queue(self) -> SyncRedis:
        """RQ's connection (raw bytes). No command timeout: RQ's workers block on the queue for minutes."""
        settings = self.settings
        options: dict[str, Any] = {"socket_connect_timeout": CONNECT_TIMEOUT,
                                   "retry": SyncRetry(ExponentialWithJitterBackoff(**BACKOFF), RETRIES)}
        if settings.queue_redis_url:
            return SyncRedis.from_url(settings.queue_redis_url, **options)
        if settings.redis_sentinels:
            master = self._sync_sentinels().master_for(  # type: ignore[no-untyped-call]
                self._master(), **options, **_url_options(settings.redis_url))
            return cast(SyncRedis, master)
        assert settings.redis_url is not None
        return SyncRedis.from_url(settings.redis_url, **options)

    # -- descriptions and closing -------------------------------------------------------------

    def describe(self) -> str:
        """Where the data lives, for the start-up log (no password)."""
        settings = self.settings
        if settings.redis_sentinels:
            where = f"Sentinel master {settings.redis_sentinel_master!r} via {', '.join(settings.redis_sentinels)}"
        else:
            kind = "Redis Cluster at" if settings.redis_cluster else "Redis at"
            where = f"{kind} {_address(settings.redis_url)}"
        if settings.queue_redis_url:
            where += f"; job queues on {_address(settings.queue_redis_url)}"
        return where

    def _master(self) -> str:
        assert self.settings.redis_sentinel_master is not None  # checked with the settings
        return self.settings.redis_sentinel_master

    def _sentinels(self) -> Sentinel:
        if self._sentinel is None:
            self._sentinel = Sentinel(self.settings.sentinel_addresses,  # type: ignore[no-untyped-call]
                                      sentinel_kwargs={"socket_timeout": SENTINEL_TIMEOUT,
                                                       "socket_connect_timeout": SENTINEL_TIMEOUT})
        return self._sentinel

    def _sync_sentinels(self) -> SyncSentinel:
        if self._sync_sentinel is None:
            self._sync_sentinel = SyncSentinel(self.settings.sentinel_addresses,  # type: ignore[no-untyped-call]
                                               sentinel_kwargs={"socket_timeout": SENTINEL_TIMEOUT,
                                                                "socket_connect_timeout": SENTINEL_TIMEOUT})
        return self._sync_sentinel


async def prepare(client: Any) -> None:
    """Read a cluster's slot map before the first commands: redis-py's cluster client, used by many
    coroutines at once before it has the map, sometimes fails a command on a half-made connection."""
    if isinstance(client, RedisCluster):
        await client.initialize()


async def close_data(client: Any) -> None:
    """Close a data client, and the node clients its cluster transactions opened."""
    await close_node_clients(client)
    await client.aclose()


def _address(url: str | None) -> str:
    parts = urlsplit(url or "")
    return f"{parts.hostname or '?'}:{parts.port or 6379}{parts.path if parts.path not in ('', '/') else ''}"
