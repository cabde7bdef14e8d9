"""Which delivery-status changes are allowed: a pure rule shared by every writer.

Provider callbacks and the outbound job race (Twilio may report "delivered"
before the job records "sent"); a late, lesser status must never hide a
better one or a failure.
"""

from __future__ import annotations

from conversations.models import FINAL_FAILURES, DeliveryStatus

PROGRESS = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED,
            DeliveryStatus.READ)


def is_step_back(current: DeliveryStatus | None, new: DeliveryStatus) -> bool:
    """True if ``new`` would move an outbound message backwards from ``current``."""
    if current is None or new in FINAL_FAILURES:
        return False
    if current in FINAL_FAILURES:
        # Only the provider's word that it arrived after all overrides a failure.
        return new not in (DeliveryStatus.DELIVERED, DeliveryStatus.READ)
    return PROGRESS.index(new) < PROGRESS.index(current)
