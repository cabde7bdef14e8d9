"""The web process's event loop: uvloop when installed (``pip install omnichannel-gateway[fast]``).

uvloop runs the same asyncio code with less overhead per socket operation,
which is most of what the web process does (benchmarks/ingest_*.py measure it).
``GATEWAY_EVENT_LOOP=asyncio`` keeps the standard loop, e.g. to compare.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("gateway")


def install(choice: str) -> str:
    """Set the event loop policy for ``choice`` (auto, uvloop, asyncio); returns the loop in use."""
    if choice == "asyncio":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            log.warning("GATEWAY_EVENT_LOOP=uvloop but uvloop is not installed; using asyncio")
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"
