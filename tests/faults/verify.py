"""What a fault test checks afterwards, through the admin API as an operator would: nothing acked is missing."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import redis
from rq import Queue
from rq.job import JobStatus

from tests.faults.load import ChatVisitor, SmsLoad
from tests.faults.processes import admin_headers
from tests.support import wait_until


async def stored_messages(session: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    """Every message of every conversation the gateway lists (merged-away ones included)."""
    ids: set[str] = set()
    cursor = None
    while True:  # every page of the backlog index
        params = {"limit": "200", "status": "open,pending,resolved", **({"cursor": cursor} if cursor else {})}
        async with session.get(f"{base}/api/conversations", params=params, headers=admin_headers()) as response:
            assert response.status == 200, await response.text()
            page = await response.json()
        ids.update(c["id"] for c in page["conversations"])
        if not (cursor := page["next_cursor"]):
            break
    messages: list[dict[str, Any]] = []
    for conversation_id in sorted(ids):
        async with session.get(f"{base}/api/conversations/{conversation_id}", headers=admin_headers()) as response:
            assert response.status == 200, await response.text()
            messages.extend((await response.json())["messages"])
    return messages


def check_nothing_acked_is_lost(messages: list[dict[str, Any]], sms: SmsLoad | None,
                                visitors: list[ChatVisitor]) -> dict[str, int]:
    """Every acked SMS and chat message is stored exactly once; returns the counts for the report."""
    inbound = [m for m in messages if m["direction"] == "inbound"]
    by_provider = Counter(m["provider_id"] for m in inbound)
    duplicates = {p: n for p, n in by_provider.items() if n > 1}
    assert not duplicates, f"stored more than once: {duplicates}"
    acked_sms = sms.acked if sms else []
    lost_sms = [m.sid for m in acked_sms if by_provider[m.sid] != 1]
    stored_ids = {m["id"] for m in inbound}
    acked_chat = [(v.name, client_id, message_id) for v in visitors for client_id, message_id in v.acked.items()]
    lost_chat = [(name, client_id) for name, client_id, message_id in acked_chat if message_id not in stored_ids]
    assert not lost_sms and not lost_chat, f"acknowledged but not stored: sms {lost_sms}, chat {lost_chat}"
    return {"acked_sms": len(acked_sms), "acked_chat": len(acked_chat), "acked_and_lost": 0,
            "stored_inbound": len(inbound)}


def report(name: str, figures: dict[str, Any]) -> None:
    """Print the figures (pytest -s shows them) and append them to $FAULT_FIGURES_FILE if set."""
    line = json.dumps({"test": name, **figures}, sort_keys=True)
    print(f"\nFAULT FIGURES {line}")
    target = os.environ.get("FAULT_FIGURES_FILE")
    if target:
        with Path(target).open("a") as out:
            out.write(line + "\n")


def seconds(start: float, end: float | None) -> float | None:
    return None if end is None else round(end - start, 2)


def now() -> float:
    return time.monotonic()


async def poll_readyz(session: aiohttp.ClientSession, base: str, seen: list[tuple[float, int]],
                      done: asyncio.Event) -> None:
    """Record /readyz every 0.1 s until ``done`` (0 = no answer at all)."""
    while not done.is_set():
        try:
            async with session.get(base + "/readyz", timeout=aiohttp.ClientTimeout(total=5)) as response:
                seen.append((now(), response.status))
        except (aiohttp.ClientError, TimeoutError):
            seen.append((now(), 0))
        try:
            await asyncio.wait_for(done.wait(), timeout=0.1)
        except TimeoutError:
            pass


async def reply_reaches_visitor(session: aiohttp.ClientSession, base: str, *, urls: list[str] | None = None) -> float:
    """An agent's reply, through the worker's outbound job and pub/sub, reaches a visitor's socket; returns seconds."""
    visitor = ChatVisitor(session, urls or [base], "after")
    done = asyncio.Event()
    connection = asyncio.create_task(visitor.keep_connected(done))
    try:
        await visitor.say("hello after the fault")
        await wait_until(lambda: visitor.conversation_id, timeout=15, what="the visitor's message to be acked")
        started = now()
        async with session.post(f"{base}/api/conversations/{visitor.conversation_id}/messages",
                                json={"text": "Agent here", "author": "Grace"}, headers=admin_headers()) as response:
            assert response.status == 201, await response.text()
        await wait_until(lambda: any(m["text"] == "Agent here" for m in visitor.live), timeout=20,
                         what="the worker to deliver the reply to the socket")
        return round(now() - started, 2)
    finally:
        done.set()
        await connection


async def sla_timer_fires(session: aiohttp.ClientSession, base: str) -> None:
    """A new conversation nobody answers breaches its 3 s first-response SLA: the sweeper armed and fired it."""
    visitor = ChatVisitor(session, [base], "unanswered")
    done = asyncio.Event()
    connection = asyncio.create_task(visitor.keep_connected(done))
    try:
        await visitor.say("nobody answers me")
        await wait_until(lambda: visitor.conversation_id, timeout=15, what="the message to be acked")

        async def breached() -> bool:
            async with session.get(f"{base}/api/conversations/{visitor.conversation_id}",
                                   headers=admin_headers()) as response:
                view = await response.json()
            return any(m["kind"] == "sla_breach" for m in view["messages"])

        await wait_until(breached, timeout=20, what="the sweeper to fire the SLA breach")
    finally:
        done.set()
        await connection


async def scheduled_job_runs(queue_url: str) -> float:
    """A job scheduled for 0.5 s from now runs: RQ's scheduler (in ``gateway worker``) is alive; returns seconds."""
    connection = redis.Redis.from_url(queue_url)
    try:
        started = now()
        job = Queue("outbound", connection=connection).enqueue_in(
            timedelta(seconds=0.5), "workers.outbound.deliver", "cnv_does_not_exist")
        await wait_until(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, timeout=30,
                         what="RQ's scheduler to move the scheduled job and the worker to run it")
        return round(now() - started, 2)
    finally:
        connection.close()
