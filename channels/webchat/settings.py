"""GATEWAY_WEBCHAT__*: the web chat widget's socket limits, abuse limits, identity verification and retention.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field, SecretStr


class WebchatSettings(BaseModel):
    # HMAC key the site uses to compute identifier_hash; unset = no verified identities.
    identity_secret: SecretStr | None = None
    max_message_chars: int = Field(default=4000, ge=1)
    max_frame_bytes: int = Field(default=16 * 1024, ge=256)
    # Frames per second per visitor token, across all its sockets and processes (kept in Redis).
    frames_per_second: float = Field(default=5.0, gt=0)
    frame_burst: int = Field(default=10, ge=1)
    heartbeat_seconds: float = Field(default=25.0, gt=0)
    # A socket that has not said hello by then is closed (4008).
    hello_timeout_seconds: float = Field(default=10.0, gt=0)
    # A visitor token unused this long no longer opens its session; every welcome renews it.
    token_ttl: timedelta = timedelta(days=30)
    # Frames waiting for one socket; a socket this far behind is cut off, never waited for.
    send_queue_frames: int = Field(default=64, ge=1)
    # New anonymous conversations one client address may open per hour (0: no cap).
    new_conversations_per_address_per_hour: int = Field(default=20, ge=0)
    # Open sockets one client address (an IPv6 /64) may hold in one web process (0: no cap). Visitors
    # behind one carrier or office NAT share an address, hence the generous default.
    sockets_per_address: int = Field(default=100, ge=0)
    # Anonymous customers (no verified identity) with no message for this long are deleted.
    anonymous_retention: timedelta = timedelta(days=90)
