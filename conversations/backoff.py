"""Waiting out a Redis outage: bounded exponential back-off with jitter, and one log line per state change.

A loop that talks to Redis (the sweeper, an RQ worker, its scheduler) asks
:class:`Outage` how long to wait after a failed attempt. The first failure
logs one warning (what, where, why, and the longest wait); every further
failure is silent; the first success after an outage logs one line saying
how long it lasted. A dead Redis therefore costs two log lines, not a
traceback every half second. The waits grow 0.5 s, 1 s, 2 s … up to
``cap`` and are drawn at random between half and all of that ("equal
jitter"), so many processes restarted together do not knock on a recovering
Redis in step.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What "Redis is not there right now" looks like: refused or dropped connections,
# timeouts, a restarted server still loading its data (BusyLoadingError is a
# ConnectionError), a replica that was the primary before a failover (read-only).
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)


def is_outage(error: BaseException) -> bool:
    return isinstance(error, OUTAGE_ERRORS)


class Backoff:
    """Delays of ``base * 2**n`` seconds, at most ``cap``, each drawn from [half, all] of it."""

    def __init__(self, base: float = 0.5, cap: float = 5.0, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (1 << min(self.attempts, 30)))
        self.attempts += 1
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def reset(self) -> None:
        self.attempts = 0


class Outage:
    """Tracks one process's view of Redis: up, or down since when.

    ``failed(error)`` returns the seconds to wait before the next attempt;
    ``recovered()`` is called after any successful round trip.
    """

    def __init__(self, log: logging.Logger, who: str, address: str, *, backoff: Backoff | None = None,
                 level: int = logging.WARNING, clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.who, self.address = log, who, address
        self.backoff = backoff or Backoff()
        self.level = level
        self.clock = clock
        self.down_since: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> float:
        if self.down_since is None:
            self.down_since = self.clock()
            self.failures = 0
            self.log.log(self.level, "%s: Redis at %s unreachable (%s); retrying with back-off (at most %gs apart)",
                         self.who, self.address, describe(error), self.backoff.cap)
        self.failures += 1
        return self.backoff.next_delay()

    def recovered(self) -> None:
        if self.down_since is None:
            return
        lasted = self.clock() - self.down_since
        self.log.log(min(self.level, logging.INFO), "%s: Redis at %s reachable again after %.1fs (%d failed attempt%s)",
                     self.who, self.address, lasted, self.failures, "" if self.failures == 1 else "s")
        self.down_since = None
        self.backoff.reset()


def describe(error: BaseException) -> str:
    """One line for a log: the error's first line, or its type when it has no message."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def address_of(url: str) -> str:
    """Where a Redis URL points, for logs and errors: ``host:port`` (or the socket path), never the password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    try:
        port = parts.port or 6379
    except ValueError:
        port = 6379
    return f"{parts.hostname or 'localhost'}:{port}"
