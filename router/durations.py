"""Durations as admins write them: ``30s``, ``15m``, ``4h``, ``2d``, ``1w``, ``1h30m``.

A bare number is refused on purpose: ``30`` could mean seconds or minutes,
and an SLA that is off by a factor of 60 is worse than a load error.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
# Units must come largest first and at most once each ("1h30m", not "30m1h"),
# so a typo such as "1m1m" is an error rather than a silent sum.
_DURATION = re.compile(r"(?:(\d+)w)?\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?")

DURATION_HELP = "a duration such as 30s, 15m, 4h, 2d, 1w or 1h30m"


def parse_duration(value: str) -> timedelta:
    """Turn ``"1h30m"`` into ``timedelta(hours=1, minutes=30)``.

    Raises:
        ValueError: with a message that shows the expected form.
    """
    text = value.strip().lower()
    match = _DURATION.fullmatch(text)
    if not text or match is None or not any(match.groups()):
        raise ValueError(f"{value!r} is not {DURATION_HELP}")
    seconds = sum(int(n) * _UNITS[u] for n, u in zip(match.groups(), _UNITS) if n)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse of :func:`parse_duration`, for summaries: ``5400s`` → ``1h30m``."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
