"""GATEWAY_WORKER__*: the sweeper's pace and outbound delivery limits.

The group belongs to its package; ``gateway.settings`` composes every group under one prefix.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class WorkerSettings(BaseModel):
    # How often the SLA sweeper looks for due timers.
    sweep_interval_seconds: float = Field(default=0.5, gt=0)
    outbound_max_attempts: int = Field(default=6, ge=1)
    # A provider call longer than this counts as a transient failure; keep it below the lock.
    send_timeout_seconds: float = Field(default=20.0, gt=0)
    # Per-conversation delivery lock; a crashed holder blocks its conversation this long at most.
    outbound_lock_seconds: float = Field(default=30.0, gt=0)
    # An outbound message queued or sending for this long with nobody delivering is re-enqueued.
    outbound_stuck_seconds: float = Field(default=30.0, gt=0)
    # RQ's abandoned-job check (default 600 s); our own sweeps recover faster, this is the backstop.
    maintenance_interval_seconds: int = Field(default=60, ge=1)
