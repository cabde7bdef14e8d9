"""The web chat channel's Redis keys (prefix ``gw:webchat:``)."""

from __future__ import annotations

PREFIX = "gw:webchat"

# pub/sub: nothing is published on it; each process's hub subscribes to it so its reader has a
# subscription to read from before any conversation is followed.
HUB_KEEPALIVE = "gw:events:hub"

# zset: customer id -> time (ms) of the anonymous customer's latest message; the retention sweep reads it.
ANONYMOUS_ACTIVITY = f"{PREFIX}:anonymous"


def rate(visitor_id: str) -> str:
    """hash (tokens, at): the visitor's frame budget, shared by all its sockets and processes."""
    return f"{PREFIX}:rate:{visitor_id}"


def opened(address: str, hour: int) -> str:
    """string (2 h): new anonymous conversations opened from one client address in one clock hour."""
    return f"{PREFIX}:opened:{address}:{hour}"
