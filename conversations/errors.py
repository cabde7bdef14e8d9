"""Domain errors; the gateway maps them to HTTP status codes in one middleware."""

from __future__ import annotations

from redis.exceptions import (
    ClusterDownError,
    ExecAbortError,
    ReadOnlyError,
    RedisClusterException,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class DomainError(Exception):
    """Base for errors a caller can act on."""

    status = 400


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The conversation is not in a state that allows the action (409)."""

    status = 409


class InvalidRequest(DomainError):
    status = 400


class NotReplicated(DomainError):
    """Written on the primary, but fewer replicas than asked confirmed it in time.

    Not an acknowledgement: the caller answers 503 and the sender retries; the
    retry is recognised as a duplicate and confirmed once the replicas caught up.
    """

    status = 503


class Erasing(DomainError):
    """The customer a message belongs to is being erased: retried, it starts a new customer.

    503, like a Redis failover: the sender retries (a web chat client resends) in a moment.
    """

    status = 503


# Redis answers that mean "not now" rather than "never": the caller answers 503 (a provider
# retries, a web chat client resends), never 500. A restart refuses connections, then loads its
# AOF (LOADING); a failover leaves clients on a replica (READONLY) or without a master
# (MASTERDOWN); a cluster moves or loses slots (TRYAGAIN, CLUSTERDOWN); a primary configured with
# min-replicas-to-write refuses writes without them (NOREPLICAS).
_UNAVAILABLE_TYPES: tuple[type[BaseException], ...] = (
    RedisConnectionError, RedisTimeoutError, ReadOnlyError, ClusterDownError, TryAgainError,
    RedisClusterException, ConnectionError, NotReplicated,  # the built-in ConnectionError: refused, reset
)
_UNAVAILABLE_REPLIES = ("NOREPLICAS", "MASTERDOWN", "LOADING", "READONLY", "TRYAGAIN", "CLUSTERDOWN")


def storage_unavailable(error: BaseException) -> bool:
    """True when ``error`` means Redis cannot take the request now (retry later), not a bug."""
    if isinstance(error, _UNAVAILABLE_TYPES):
        return True
    if isinstance(error, ResponseError):
        text = str(error)
        # A transaction aborted by one of those answers says so after EXECABORT.
        return text.startswith(_UNAVAILABLE_REPLIES) or (
            isinstance(error, ExecAbortError) and any(reply in text for reply in _UNAVAILABLE_REPLIES))
    return False
