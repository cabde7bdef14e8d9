"""Jobs for tests/workers/test_job_loop.py: they report which process and which ``Services`` ran them."""

from __future__ import annotations

import asyncio
import os

from workers import context


def note(key: str) -> None:
    """Write ``pid:id(services)`` under ``key``: the same object twice means the services were kept."""

    async def body(services: context.Services) -> None:
        await services.redis.set(key, f"{os.getpid()}:{id(services)}")

    context.run(body)


def hang(seconds: float) -> None:
    """Wait longer than the job's timeout allows: RQ interrupts it from a signal handler."""
    context.run(lambda services: asyncio.sleep(seconds))
