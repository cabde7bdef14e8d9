"""The one clock: aware UTC datetimes, epoch milliseconds (the unit every Redis score uses) and epoch seconds.

Seconds are what the providers' signed timestamps and the visitor tokens carry.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def now_seconds() -> float:
    """Epoch seconds, for the providers' signature windows and the visitor tokens' expiry."""
    return time.time()


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
