"""Proactive messages: one (``send``, for ``POST /api/outbound``) and batches (the ``run_batch`` job).

A batch is stored when it is accepted (``gw:proactive:batch:<id>``: the
message, every recipient, and one result per recipient) and worked through by
``run_batch`` jobs at each channel's pace (``workers.pacing``). A job works for
at most ``RUN_BUDGET`` seconds, then schedules the next one, so a batch of
1,000 SMS at one a second never holds a worker for 17 minutes while replies
wait to be delivered.

Each recipient is sent at most once: its result is claimed (``HSETNX``)
before the message is stored. A job that dies in between leaves the claim
("sending"); the next job records it as ``unknown`` rather than risk writing
to the customer twice. Recipients that cannot be written to (opted out, no
address, a template that cannot be filled for them) are ``refused`` with the
reason; the rest of the batch goes on.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from conversations import proactive
from conversations.clock import now_ms, utcnow
from conversations.errors import DomainError, InvalidRequest
from conversations.models import Channel, ConversationId, Customer, Identity
from conversations.proactive import Draft, Sent
from workers import context, defaults, keys
from workers.context import Services
from workers.pacing import take_slot

RUN_BUDGET = 5.0  # seconds one job works before it hands over to the next
MAX_WAIT_MS = 1000  # a slot further away than this ends the run


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who: an existing customer, or an address (``identity``, a customer is made if it is new)."""

    customer_id: str | None = None
    identity: str | None = None  # identity key, normalized: "sms:+4915…"
    variables: dict[str, str] = field(default_factory=dict)  # this recipient's own template variables


@dataclass(frozen=True, slots=True)
class Spec:
    """What: the text or template, on which channel, in which queue, by whom."""

    text: str | None = None
    template: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    channel: str | None = None
    queue: str = "service"
    author: str = "admin"
    subject: str | None = None


async def resolve(services: Services, recipient: Recipient, channel: Channel | None) -> tuple[Identity, Customer | None]:
    """The address to write to and its customer (None: an address nobody wrote from yet)."""
    store = services.store
    if recipient.customer_id is not None:
        customer = await store.current_customer(recipient.customer_id)
        return await proactive.target_of(services.service, customer, channel), customer
    assert recipient.identity is not None
    identity = Identity.parse(recipient.identity)
    owner = await store.customer_for(identity)
    known = await store.current_customer(owner) if owner else None
    if channel is None or channel == identity.channel:
        return identity, known
    if known is None:
        raise InvalidRequest(f"nobody has written from {identity.address} yet, so there is no {channel.value} "
                             f"address for them; write to the {identity.channel.value} address instead")
    return await proactive.target_of(services.service, known, channel), known


def check_queue(services: Services, queue: str) -> None:
    queues = services.rules.current.queues
    if queue not in queues:
        raise InvalidRequest(f"unknown queue {queue!r}; known: {', '.join(sorted(queues))}")


def check_sender(services: Services, channel: Channel) -> None:
    if channel not in services.senders:
        raise InvalidRequest(f"no {channel.value} sender is configured on this gateway; nothing was sent")


async def send(services: Services, recipient: Recipient, spec: Spec, *,
               target: tuple[Identity, Customer | None] | None = None) -> Sent:
    """Send one proactive message (``conversations.proactive.send_first``) after every check.

    Raises:
        DomainError: unknown queue, template or customer, no address or sender, opted out,
            a template that cannot be filled; nothing is stored.
    """
    check_queue(services, spec.queue)
    to, customer = target or await resolve(services, recipient, Channel(spec.channel) if spec.channel else None)
    check_sender(services, to.channel)
    variables = {**spec.variables, **recipient.variables}

    async def compose(who: Customer | None, conversation_id: ConversationId, channel: Channel) -> Draft:
        if spec.template is None:
            assert spec.text is not None
            return Draft(spec.text, spec.subject)
        rendered = services.templates.render(spec.template, channel, customer=who, conversation_id=conversation_id,
                                             agent=spec.author, variables=variables)
        return Draft(rendered.text, spec.subject or rendered.subject)

    return await proactive.send_first(services.service, to=to, customer=customer, queue=spec.queue,
                                      author=spec.author, compose=compose)


# -- batches ----------------------------------------------------------------------------------


def batch_key(batch_id: str) -> str:
    return keys.proactive_batch(batch_id)


def recipients_key(batch_id: str) -> str:
    return f"{batch_key(batch_id)}:recipients"


def results_key(batch_id: str) -> str:
    return f"{batch_key(batch_id)}:results"


async def create_batch(services: Services, batch_id: str, spec: Spec, recipients: list[Recipient]) -> None:
    """Store the batch and enqueue its first job; the caller checked spec and recipients."""
    redis = services.redis
    ttl = services.proactive.keep_results_seconds + 24 * 3600  # and a day for the batch to run
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(batch_key(batch_id), mapping={
            "id": batch_id, "spec": json.dumps(asdict(spec)), "total": len(recipients), "next": 0,
            "status": "queued", "created_at": utcnow().isoformat(), "sent": 0, "refused": 0,
            "unknown": 0})
        pipe.rpush(recipients_key(batch_id), *[json.dumps(asdict(r)) for r in recipients])
        for key in (batch_key(batch_id), recipients_key(batch_id)):
            pipe.expire(key, ttl)
        await pipe.execute()
    await services.jobs.enqueue(defaults.OUTBOUND, run_batch, batch_id, job_id=f"proactive-{batch_id}-0")


async def batch_status(services: Services, batch_id: str) -> dict[str, Any] | None:
    redis = services.redis
    fields = await redis.hgetall(batch_key(batch_id))
    if not fields:
        return None
    results = await redis.hgetall(results_key(batch_id))
    total = int(fields["total"])
    listed = [{"index": int(i), **json.loads(v)} for i, v in results.items()]
    listed.sort(key=lambda r: r["index"])
    counts = {name: int(fields.get(name, 0)) for name in ("sent", "refused", "unknown")}
    return {"id": batch_id, "status": fields["status"], "total": total, **counts,
            "pending": total - sum(counts.values()), "created_at": fields["created_at"],
            "finished_at": fields.get("finished_at"), "results": listed}


def run_batch(batch_id: str, run: int = 0) -> str:
    """RQ job: send the batch's next recipients at each channel's pace, for up to ``RUN_BUDGET`` seconds."""
    return context.run(lambda services: work(services, batch_id, run))


async def work(services: Services, batch_id: str, run: int, *, budget: float = RUN_BUDGET) -> str:
    redis = services.redis
    key = batch_key(batch_id)
    fields = await redis.hgetall(key)
    if not fields or fields.get("status") == "done":
        return "nothing to do"
    spec = Spec(**json.loads(fields["spec"]))
    total = int(fields["total"])
    await redis.hset(key, "status", "running")
    deadline = time.monotonic() + budget
    while True:
        index = int(await redis.hget(key, "next") or 0)
        if index >= total:
            await redis.hset(key, mapping={"status": "done", "finished_at": utcnow().isoformat()})
            ttl = services.proactive.keep_results_seconds
            for name in (key, recipients_key(batch_id), results_key(batch_id)):
                await redis.expire(name, ttl)
            return "done"
        if time.monotonic() > deadline:
            return await _hand_over(services, batch_id, run, 0.0)
        wait = await _one(services, batch_id, index, spec)
        if wait is not None:
            return await _hand_over(services, batch_id, run, wait)


async def _one(services: Services, batch_id: str, index: int, spec: Spec) -> float | None:
    """Send recipient ``index``; None when done with it, else seconds until its channel has a slot."""
    redis = services.redis
    results = results_key(batch_id)
    claimed = await redis.hget(results, str(index))
    if claimed is not None:
        if json.loads(claimed).get("status") == "sending":  # a job died after claiming it: never twice
            await _record(services, batch_id, index, "unknown", overwrite=True,
                          error="the job sending it stopped; it may or may not have been sent, and is not retried")
        await redis.hincrby(batch_key(batch_id), "next", 1)
        return None
    raw = await redis.lindex(recipients_key(batch_id), index)
    recipient = Recipient(**json.loads(raw or "{}"))
    try:
        target = await resolve(services, recipient, Channel(spec.channel) if spec.channel else None)
    except DomainError as error:
        await _record(services, batch_id, index, "refused", error=str(error))
        await redis.hincrby(batch_key(batch_id), "next", 1)
        return None
    channel = target[0].channel
    wait_ms = await take_slot(redis, channel, services.proactive.per_second(channel), now_ms(),
                              MAX_WAIT_MS)
    if wait_ms < 0:
        return (-wait_ms - 1) / 1000
    await asyncio.sleep(wait_ms / 1000)  # the slot is ours: the channel's pace, not a poll
    if not await redis.hsetnx(results, str(index), json.dumps({"status": "sending"})):
        return None  # another job has it
    try:
        sent = await send(services, recipient, spec, target=target)
    except DomainError as error:
        await _record(services, batch_id, index, "refused", error=str(error), overwrite=True)
    else:
        await _record(services, batch_id, index, "sent", overwrite=True, conversation_id=sent.conversation_id,
                      message_id=sent.message.id, channel=channel.value)
    await redis.hincrby(batch_key(batch_id), "next", 1)
    return None


async def _record(services: Services, batch_id: str, index: int, status: str, *, overwrite: bool = False,
                  **detail: str) -> None:
    value = json.dumps({"status": status, **detail})
    results = results_key(batch_id)
    written = await services.redis.hset(results, str(index), value) if overwrite else \
        await services.redis.hsetnx(results, str(index), value)
    if written or overwrite:
        await services.redis.hincrby(batch_key(batch_id), status, 1)


async def _hand_over(services: Services, batch_id: str, run: int, delay: float) -> str:
    at = utcnow() + timedelta(seconds=delay) if delay > 0 else None
    await services.jobs.enqueue(defaults.OUTBOUND, run_batch, batch_id, run + 1,
                                job_id=f"proactive-{batch_id}-{run + 1}", at=at)
    return f"continues in run {run + 1}"
