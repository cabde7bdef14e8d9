"""GATEWAY_REDIS_POOL__* and GATEWAY_INGEST__*: the knobs of the ingest fast path (docs/PERFORMANCE.md).

- ``REDIS_POOL__MAX_CONNECTIONS``: connections of one process's data client to
  one Redis (per node on a cluster). ``REDIS_POOL__WAIT_SECONDS``: how long a
  command waits for a free one when all are busy (one Redis, Sentinel) before
  the request answers 503; redis-py's cluster client cannot wait and refuses
  at once.
- ``INGEST__GROUP_COMMIT``: concurrent messages share their round trips to
  Redis (one Redis or Sentinel; a cluster always stores message by message).
- ``INGEST__IDENTITY_CACHE_ENTRIES``: senders whose customer id a web process
  remembers (0: ask Redis every time).
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class RedisPoolSettings(BaseModel):
    max_connections: int = Field(default=100, ge=1)
    wait_seconds: float = Field(default=2.0, ge=0)


class IngestSettings(BaseModel):
    group_commit: bool = True
    identity_cache_entries: int = Field(default=100_000, ge=0)
