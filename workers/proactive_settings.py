"""GATEWAY_PROACTIVE__*: batch proactive messages (``POST /api/outbound/batch``).

Each channel's pace is shared by every worker (``workers.pacing``): a notice
to 1,000 customers must not reach Twilio faster than the number may send.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from conversations.models import Channel


class ProactiveSettings(BaseModel):
    # Messages per second a batch starts per channel, across all workers.
    sms_per_second: float = Field(default=1.0, gt=0)
    email_per_second: float = Field(default=10.0, gt=0)
    webchat_per_second: float = Field(default=50.0, gt=0)
    slack_per_second: float = Field(default=1.0, gt=0)
    max_batch: int = Field(default=1000, ge=1, le=10_000)  # recipients in one batch
    # How long a batch's job record (progress, each recipient's outcome) is kept after it finished.
    keep_results_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    def per_second(self, channel: Channel) -> float:
        return float(getattr(self, f"{channel.value}_per_second"))
