"""GATEWAY_WEBCHAT__*: the web chat widget's socket limits and identity verification.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class WebchatSettings(BaseModel):
    # HMAC key the site uses to compute identifier_hash; unset = no verified identities.
    identity_secret: SecretStr | None = None
    max_message_chars: int = Field(default=4000, ge=1)
    max_frame_bytes: int = Field(default=16 * 1024, ge=256)
    frames_per_second: float = Field(default=5.0, gt=0)
    frame_burst: int = Field(default=10, ge=1)
    heartbeat_seconds: float = Field(default=25.0, gt=0)
