"""Rule reloads into the audit log: the file watch, SIGHUP and ``POST /api/rules/reload``.

``LiveRules`` reloads on a worker thread (the watch loop) or in a signal handler; it
tells this recorder, which hands the change to the event loop and writes it there.
A reload asked for through the API is recorded by its handler, under the caller's name.
"""

from __future__ import annotations

import asyncio
import logging

from conversations.audit import AuditLog
from router import LiveRules
from router.live import RulesChange

log = logging.getLogger("gateway.audit")
API_TRIGGER = "api"
GATEWAY_AGENT = "gateway"  # nobody is known to have edited the file: the gateway noticed it


class ReloadRecorder:
    def __init__(self, rules: LiveRules, audit: AuditLog) -> None:
        self._loop = asyncio.get_running_loop()
        self._audit = audit
        self._queue: asyncio.Queue[RulesChange] = asyncio.Queue()
        self._closed = False
        rules.on_change(self._heard)
        self._task = self._loop.create_task(self._run(), name="rules-audit")

    def _heard(self, change: RulesChange) -> None:
        if self._closed or change.trigger == API_TRIGGER:
            return
        self._loop.call_soon_threadsafe(self._queue.put_nowait, change)

    async def _run(self) -> None:
        while True:
            change = await self._queue.get()
            try:
                await record(self._audit, change, GATEWAY_AGENT)
            except Exception:  # Redis away: the reload itself stands, the log says so
                log.exception("could not record the rules %s of %s in the audit log", change.outcome, change.path)

    async def close(self) -> None:
        self._closed = True
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


async def record(audit: AuditLog, change: RulesChange, agent: str) -> bool:
    return await audit.record_rules(agent=agent, outcome=change.outcome, path=change.path, version=change.version,
                                    previous=change.previous, trigger=change.trigger, error=change.error)


async def reload_now(rules: LiveRules, audit: AuditLog, agent: str) -> RulesChange:
    """Reload the rule file for an API caller and record it under their name, whatever came of it."""
    previous = rules.current.version
    loaded = await asyncio.to_thread(rules.reload, API_TRIGGER)
    error = rules.error
    outcome = "loaded" if loaded else ("refused" if error is not None else "unchanged")
    change = RulesChange(outcome, str(rules.path), rules.current.version, previous, API_TRIGGER,
                         str(error) if error is not None and not loaded else "")
    await record(audit, change, agent)
    return change
