"""The sweeper: fires due SLA timers, re-enqueues outbound deliveries nobody is doing, and erases
anonymous web chat visitors past their retention (``GATEWAY_WEBCHAT__ANONYMOUS_RETENTION``).

One loop per worker host (``gateway worker`` starts it as a child process,
or run ``gateway sweeper``); a leader lock with a TTL keeps one active, and
another takes over within the TTL when it dies.

Claiming is one Lua step: due members of ``gw:timers`` get a lease (their
score moves to now + lease) and are returned. A member is removed only
after its firing succeeded; if the sweeper dies in between, the lease
lapses and the timer fires again, which the fired marks make harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from channels.webchat import retention
from conversations import keys as core_keys
from conversations import redisio
from conversations.backoff import Backoff, Outage, describe, is_outage
from conversations.clock import to_ms, utcnow
from conversations.events import ConversationEvent, EventKind
from conversations.locks import RedisLock
from conversations.logcontext import about
from conversations.models import DeliveryStatus
from workers import arming, context, defaults, firing, keys, outbound, report_store, timers
from workers import retention as retention_archive
from workers.context import Services
from workers.timers import TimerRef

log = logging.getLogger("gateway.sweeper")

CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], ARGV[2], due[i]) end
return due
"""
ARM_BUDGET_SECONDS = 0.2  # arming per pass, then due timers fire again (the rest is armed next pass, at once)
MIN_WAIT_SECONDS = 0.005  # between passes, even when a timer is due right away
RETENTION_EVERY_SECONDS = 300.0  # erasing idle anonymous visitors is no hurry
REPORTS_EVERY_SECONDS = 10.0  # recompute the report aggregates of hours that changed, before anyone asks
UNDELIVERED = (DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value)
UNMARK = """
local removed = 0
for i = 2, #ARGV do
  if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[i]) or -1) == tonumber(ARGV[1]) then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
"""


class Sweeper:
    """Fires due timers and recovers stuck deliveries; ``clock`` is driven in tests."""

    def __init__(self, services: Services, *, lease_seconds: float = 10.0, batch: int = 1000, concurrency: int = 24,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.services = services
        self.redis = services.redis
        self.lease_ms = int(lease_seconds * 1000)
        self.batch = batch
        self.concurrency = concurrency
        self.clock = clock
        self.leader = RedisLock(self.redis, keys.SWEEPER_LEADER, 10)
        self.token = self.leader.token
        self._claim = self.redis.register_script(CLAIM)
        self._unmark = self.redis.register_script(UNMARK)
        self.arming_left = False  # the last ``arm_marked`` stopped on its budget with marks left

    # -- timers ----------------------------------------------------------------------

    async def claim(self, now: datetime) -> list[tuple[str, int]]:
        raw = await self._claim(keys=[keys.TIMERS], args=[to_ms(now), to_ms(now) + self.lease_ms, self.batch])
        return [(raw[i], int(float(raw[i + 1]))) for i in range(0, len(raw), 2)]

    async def sweep_timers(self) -> int:
        """Fire every timer due now, a claimed batch at a time (``firing.py``); returns how many fired."""
        fired = 0
        while True:
            claimed = await self.claim(self.clock())
            if not claimed:
                return fired
            refs = []
            for member, _ in claimed:
                try:
                    refs.append(TimerRef.parse(member))
                except ValueError:
                    log.warning("dropping malformed timer %r", member)
                    await self.redis.zrem(keys.TIMERS, member)
            done = await firing.fire_batch(self.services, refs, self.clock(), self.concurrency)
            if done.settled:
                await self.redis.zrem(keys.TIMERS, *done.settled)
            fired += done.fired
            # The rest one by one, as ``timers.fire`` does it (escalations, stale timers, conflicts).
            by_conversation: OrderedDict[str, list[str]] = OrderedDict()
            for ref in done.rest:
                by_conversation.setdefault(ref.conversation_id, []).append(ref.member)
            gate = asyncio.Semaphore(self.concurrency)
            results = await asyncio.gather(*(self._fire_group(gate, group) for group in by_conversation.values()))
            fired += sum(results)
            if len(claimed) < self.batch:
                return fired

    async def _fire_group(self, gate: asyncio.Semaphore, members: list[str]) -> int:
        """One conversation's due timers, in due order (a warning before its breach)."""
        fired = 0
        # A re-fired member's score is its lapsed lease, not its deadline: order by kind, warnings first.
        members = sorted(members, key=lambda m: ("|breach|" in m, m))
        async with gate:
            for member in members:
                try:
                    ref = TimerRef.parse(member)
                except ValueError:
                    log.warning("dropping malformed timer %r", member)
                    await self.redis.zrem(keys.TIMERS, member)
                    continue
                try:
                    with about(conversation_id=ref.conversation_id):
                        result = await timers.fire(self.services, ref, self.clock())
                except Exception as error:  # leave it claimed: the lease lapses and it fires again
                    if is_outage(error):
                        raise  # Redis is gone: end the pass, the loop waits it out (one line, not one per timer)
                    log.exception("firing %s failed; it fires again after its lease", member)
                    continue
                await self.redis.zrem(keys.TIMERS, member)
                fired += result == "fired"
        return fired

    async def until_next_due(self, interval: float) -> float:
        """Seconds to wait for the next pass: until the earliest timer is due, at most ``interval``.

        Waiting the whole interval would make a timer due just after a pass up to an interval late.
        """
        first = await self.redis.zrange(keys.TIMERS, 0, 0, withscores=True)
        if not first:
            return interval
        _, score = redisio.scored(first)[0]
        return min(interval, max(MIN_WAIT_SECONDS, (score - to_ms(self.clock())) / 1000))

    # -- arming -----------------------------------------------------------------------

    async def arm_marked(self, budget_seconds: float | None = None) -> int:
        """Re-arm conversations whose events marked them, a batch at a time; returns how many were looked at.

        ``budget_seconds``: stop after the batch that passes it (the loop fires due timers in
        between, so a million marks never hold up firing); None drains every mark.
        """
        done = 0
        started = time.monotonic()
        self.arming_left = False
        while True:
            now_ms = to_ms(self.clock())
            lease = now_ms + self.lease_ms
            claimed = await self._claim(keys=[keys.TIMERS_DIRTY], args=[now_ms, lease, self.batch])
            conversation_ids: list[str] = claimed[0::2]
            if not conversation_ids:
                return done
            armed = await arming.arm_batch(self.services.store, self.services.rules.current, conversation_ids)
            # New deadlines: whoever shows them (the Slack parent) refreshes.
            gate = asyncio.Semaphore(self.concurrency)

            async def tell(conversation_id: str, customer_id: str) -> None:
                async with gate:
                    await self.services.events.emit(ConversationEvent(EventKind.SLA_ARMED, conversation_id,
                                                                      customer_id))

            await asyncio.gather(*(tell(c.id, c.customer_id) for c in armed.changed))
            # Unmark unless an event marked it again meanwhile (its score is no longer our lease).
            if armed.settled:
                await self._unmark(keys=[keys.TIMERS_DIRTY], args=[lease, *armed.settled])
            done += len(conversation_ids)
            if len(conversation_ids) < self.batch:
                return done
            if budget_seconds is not None and time.monotonic() - started >= budget_seconds:
                self.arming_left = True  # more marks may wait: the loop comes back at once
                return done

    # -- outbound recovery -------------------------------------------------------------

    async def recover_outbound(self) -> int:
        """Re-enqueue conversations whose messages nobody delivers; returns how many."""
        now_ms = to_ms(self.clock())
        stuck_ms = int(self.services.settings.outbound_stuck_seconds * 1000)
        await self._scan_recent(now_ms, stuck_ms)
        recovered = 0
        due = await self.redis.zrangebyscore(keys.OUTBOUND_PENDING, "-inf", now_ms - stuck_ms, start=0, num=500)
        for conversation_id in redisio.members(due):
            if await self.redis.exists(keys.outbound_lock(conversation_id)):
                await self.redis.zadd(keys.OUTBOUND_PENDING, {conversation_id: now_ms})
                continue
            pending = await outbound.undelivered(self.services.store, conversation_id)
            if not pending:
                await self.redis.zrem(keys.OUTBOUND_PENDING, conversation_id)
                continue
            not_before = int(await self.redis.hget(keys.outbound_attempts(pending[0].id), "not_before") or 0)
            await self.redis.zadd(keys.OUTBOUND_PENDING, {conversation_id: max(now_ms, not_before)})
            if not_before > now_ms:
                continue  # a retry is scheduled for then
            await self.services.jobs.enqueue(defaults.OUTBOUND, outbound.deliver, conversation_id, pending[0].id,
                                            job_id=f"deliver-recover-{conversation_id}-{now_ms}")
            recovered += 1
        return recovered

    async def _scan_recent(self, now_ms: int, stuck_ms: int, limit: int = 500) -> None:
        """Conversations active since the last scan with undelivered messages join the pending set.

        Covers a crash between storing a reply and its listener marking the conversation pending.
        At most ``limit`` conversations per pass, so a long backlog never holds up the timers.
        """
        upper = now_ms - stuck_ms
        mark = int(await self.redis.get(keys.OUTBOUND_SCAN_MARK) or upper - 3600_000)
        if upper <= mark:
            return
        batch = await self.services.store.index.active_between(mark, upper, limit=limit)
        async with self.redis.pipeline(transaction=False) as pipe:
            for conversation_id, _ in batch:
                pipe.get(core_keys.conversation_locator(conversation_id))
            customers = await pipe.execute()
        async with self.redis.pipeline(transaction=False) as pipe:
            for (conversation_id, _), customer_id in zip(batch, customers):
                pipe.hvals(core_keys.CustomerKeys(customer_id or "-").delivery(conversation_id))
            deliveries = await pipe.execute()
        for (conversation_id, _), states in zip(batch, deliveries):
            if any(json.loads(s).get("status") in UNDELIVERED for s in states):
                await self.redis.zadd(keys.OUTBOUND_PENDING, {conversation_id: 0}, nx=True)
        # A full batch may have more at its last score: resume there (one ms later if it did not move).
        last = int(batch[-1][1]) if len(batch) == limit else upper
        await self.redis.set(keys.OUTBOUND_SCAN_MARK, last if last > mark else mark + 1)

    # -- retention -----------------------------------------------------------------------

    async def expire_anonymous(self) -> int:
        """Erase anonymous web chat customers with no message for the retention period."""
        return await retention.expire_anonymous(self.redis, self.services.store,
                                                retention=self.services.webchat.anonymous_retention,
                                                now_ms=to_ms(self.clock()))

    async def archive_resolved(self) -> int:
        """Move resolved conversations past ``GATEWAY_RETENTION__RESOLVED_DAYS`` to the archive, a batch at a time."""
        settings, files = self.services.retention, self.services.attachments
        if settings.resolved_days is None or files is None:
            return 0
        moved = 0
        while True:
            batch = await retention_archive.archive_resolved(
                self.redis, self.services.store.index, files.store, days=settings.resolved_days, now=self.clock(),
                batch=settings.batch)
            moved += batch
            if batch < settings.batch:
                return moved

    # -- the loop ----------------------------------------------------------------------

    async def lead(self, ttl_ms: int) -> bool:
        """Become or stay the active sweeper."""
        self.leader.ttl_ms = ttl_ms
        return await self.leader.hold()

    async def run(self, interval: float, stop: asyncio.Event, *, parent: int | None = None,
                  outage: Outage | None = None) -> None:
        """Sweep every ``interval`` seconds until ``stop`` is set (a pass in progress finishes first).

        Redis going away is waited out with bounded, jittered back-off and
        logged once when it goes and once when it comes back; any other
        failure is logged with its traceback once, not again while it repeats.
        """
        outage = outage or Outage(log, "sweeper", redis_address(self.redis))
        failing = _Repeats()
        ttl_ms = int(max(interval * 5, 10) * 1000)
        recover_every = max(interval, 5.0)
        last_recovery = 0.0
        last_retention = 0.0
        last_reports = 0.0
        while not stop.is_set():
            if parent is not None and os.getppid() != parent:
                log.warning("the worker that started this sweeper is gone; stopping")
                return
            wait = interval
            try:
                await asyncio.to_thread(self.services.rules.reload_if_changed)
                if await self.lead(ttl_ms):
                    # Due timers first: a backlog of marks (a million after a restore) is armed
                    # ARM_BUDGET_SECONDS at a time between firings, never ahead of them.
                    await self.sweep_timers()
                    await self.arm_marked(budget_seconds=ARM_BUDGET_SECONDS)
                    await self.services.store.index.repair()  # index syncs a dead process left undone
                    await self.sweep_timers()
                    # Report rows of the conversations events marked (a batch a pass; more waits for the next).
                    reports_left = await report_store.record_marked(
                        self.services.store, self.services.rules.current) >= report_store.RECORD_BATCH
                    if time.monotonic() - last_recovery >= recover_every:
                        await self.recover_outbound()
                        last_recovery = time.monotonic()
                    if time.monotonic() - last_retention >= RETENTION_EVERY_SECONDS:
                        last_retention = time.monotonic()
                        await self.expire_anonymous()
                        await self.archive_resolved()
                    if time.monotonic() - last_reports >= REPORTS_EVERY_SECONDS:
                        last_reports = time.monotonic()
                        await report_store.warm(self.redis)
                    wait = 0.0 if self.arming_left or reports_left else await self.until_next_due(interval)
                outage.recovered()
                failing.cleared()
            except Exception as error:
                if is_outage(error):
                    wait = outage.failed(error)
                else:
                    wait = max(interval, failing.failed(error))
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                pass


class _Repeats:
    """A failure that is not an outage (a bug, bad data): its traceback once, then quiet while it repeats."""

    def __init__(self) -> None:
        self.last: str | None = None
        self.backoff = Backoff(base=0.5, cap=30.0)

    def failed(self, error: Exception) -> float:
        signature = f"{type(error).__name__}: {describe(error)}"
        if signature != self.last:
            log.exception("sweep failed; retrying with back-off, logged again only if the error changes")
            self.last = signature
        return self.backoff.next_delay()

    def cleared(self) -> None:
        if self.last is not None:
            log.info("sweeps succeed again")
            self.last = None
            self.backoff.reset()


def redis_address(redis: object) -> str:
    """``host:port`` (or socket path) of a redis-py client, for log lines."""
    kwargs = getattr(getattr(redis, "connection_pool", None), "connection_kwargs", {}) or {}
    if kwargs.get("path"):
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def main(parent: int | None = None, stop_requested: Callable[[], bool] = lambda: False) -> None:
    """``gateway sweeper`` (and the child process ``gateway worker`` starts), on the installed services.

    ``parent``: the worker that started this sweeper; it stops when that process is gone.
    SIGTERM or SIGINT stops it after the pass in progress.
    """

    async def body() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if stop_requested():  # signalled while the process was starting
            stop.set()
        async with context.session() as services:
            sweeper = Sweeper(services)
            interval = services.settings.sweep_interval_seconds
            log.info("sweeper %s running every %ss", sweeper.token, interval)
            await sweeper.run(interval, stop, parent=parent)
            try:  # hand over at once instead of after the lock's TTL
                await sweeper.leader.release()
            except Exception as error:
                if not is_outage(error):
                    raise
            log.info("sweeper %s stopped", sweeper.token)

    asyncio.run(body())
