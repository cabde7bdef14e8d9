"""Steady load for the fault tests: signed Twilio webhooks and web chat visitors, retrying like the real senders.

- ``SmsLoad`` posts one inbound SMS webhook every ``1/rate`` s, each with its
  own MessageSid, signed as Twilio signs it. A 503 or a dropped connection is
  retried with the same form (as Twilio retries), anything else is final.
- ``ChatVisitor`` keeps a web chat socket, sends messages at a steady rate,
  resends what was not acknowledged after an ``unavailable`` error or a
  reconnect (same ``client_id``), and records every frame it got.

Every answer is recorded with its time, so a test can say what happened when
and which messages were acknowledged. The pauses below pace the load (the
rate, a sender's retry delay); no test waits on them for a result.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from twilio.request_validator import RequestValidator

from tests.faults.processes import OUR_NUMBER, TWILIO_SID, TWILIO_TOKEN

RETRY_DELAY = 0.2  # a provider's first retry, shortened
LONGEST_RETRY_DELAY = 1.6
RESEND_PACE = 0.4  # resent frames per visitor: 2.5/s, beside the 3/s of new messages, under the 5/s limit
GIVE_UP_AFTER = 60.0


@dataclass
class SmsMessage:
    sid: str
    phone: str
    body: str
    answers: list[tuple[float, int | str]] = field(default_factory=list)  # (monotonic time, status or error)
    acked_at: float | None = None


class SmsLoad:
    def __init__(self, session: aiohttp.ClientSession, target: str, public_url: str, *, phones: int = 8,
                 rate: float = 20.0) -> None:
        self.session, self.target, self.public_url = session, target.rstrip("/"), public_url.rstrip("/")
        self.phones = [f"+1415555{n:04d}" for n in range(phones)]
        self.rate = rate
        self.messages: list[SmsMessage] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self, stop: asyncio.Event) -> None:
        """Send at the rate until ``stop``; then wait for every message's last retry."""
        n = 0
        while not stop.is_set():
            message = SmsMessage("SM" + uuid.uuid4().hex, self.phones[n % len(self.phones)], f"sms {n} for order")
            self.messages.append(message)
            self._tasks.append(asyncio.create_task(self._deliver(message)))
            n += 1
            try:
                await asyncio.wait_for(stop.wait(), timeout=1 / self.rate)
            except TimeoutError:
                pass
        await asyncio.gather(*self._tasks)

    async def _deliver(self, message: SmsMessage) -> None:
        form = {"MessageSid": message.sid, "SmsSid": message.sid, "AccountSid": TWILIO_SID, "From": message.phone,
                "To": OUR_NUMBER, "Body": message.body, "NumMedia": "0", "NumSegments": "1"}
        path = "/sms/twilio"
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(self.public_url + path, form)
        deadline = time.monotonic() + GIVE_UP_AFTER
        delay = RETRY_DELAY
        while time.monotonic() < deadline:
            status: int | str
            try:
                async with self.session.post(self.target + path, data=form,
                                             headers={"X-Twilio-Signature": signature},
                                             timeout=aiohttp.ClientTimeout(total=15)) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                status = type(error).__name__
            message.answers.append((time.monotonic(), status))
            if isinstance(status, int) and 200 <= status < 300:
                message.acked_at = time.monotonic()
                return
            if status != 503 and isinstance(status, int):
                return  # final: the test reports it
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_RETRY_DELAY)  # backing off, as providers do

    @property
    def acked(self) -> list[SmsMessage]:
        return [m for m in self.messages if m.acked_at is not None]

    def statuses(self) -> Counter[int | str]:
        return Counter(status for m in self.messages for _, status in m.answers)

    def answered(self, status: int | str, after: float = 0.0) -> list[float]:
        return sorted(t for m in self.messages for t, s in m.answers if s == status and t >= after)


class ChatVisitor:
    """One web chat visitor on a socket it reconnects (to ``urls``, in turn) whenever it drops."""

    def __init__(self, session: aiohttp.ClientSession, urls: list[str], name: str) -> None:
        self.session, self.urls, self.name = session, urls, name
        self.token: str | None = None
        self.pending: dict[str, str] = {}
        self.sent_order: list[str] = []
        self.acked: dict[str, str] = {}  # client id -> message id
        self.ack_times: list[float] = []
        self.errors: list[tuple[float, str]] = []  # (time, code) of error frames
        self.closes: list[tuple[float, int | None]] = []
        self.welcomes: list[dict[str, Any]] = []
        self.live: list[dict[str, Any]] = []  # message frames
        self.conversation_id: str | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._url = 0
        self._n = 0
        self._resend = asyncio.Event()

    async def keep_connected(self, done: asyncio.Event) -> None:
        resender = asyncio.create_task(self.resend(done))
        try:
            await self._connect_loop(done)
        finally:
            resender.cancel()

    async def _connect_loop(self, done: asyncio.Event) -> None:
        while not done.is_set():
            try:
                ws = await self.session.ws_connect(self.urls[self._url % len(self.urls)] + "/webchat/ws",
                                                   timeout=aiohttp.ClientWSTimeout(ws_close=2), heartbeat=None)
            except (aiohttp.ClientError, OSError, TimeoutError):
                self._url += 1  # the next web process behind "the same URL"
                await _pause(done, RETRY_DELAY)
                continue
            await ws.send_json({"type": "hello", "visitor_token": self.token, "name": self.name})
            await self._read(ws, done)
            self.ws = None
            self.closes.append((time.monotonic(), ws.close_code))
            await _pause(done, RETRY_DELAY)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, done: asyncio.Event) -> None:
        reader = asyncio.ensure_future(ws.receive())
        stopper = asyncio.ensure_future(done.wait())
        try:
            while True:
                finished, _ = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if stopper in finished:
                    await ws.close()
                    return
                message = reader.result()
                if message.type != aiohttp.WSMsgType.TEXT:
                    return
                await self._handle(ws, json.loads(message.data))
                reader = asyncio.ensure_future(ws.receive())
        finally:
            for task in (reader, stopper):
                task.cancel()

    async def _handle(self, ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "welcome":
            self.token = frame["visitor_token"]
            self.welcomes.append(frame)
            self.ws = ws
            self._resend.set()
        elif kind == "ack":
            self.pending.pop(frame["client_id"], None)
            self.acked[frame["client_id"]] = frame["message_id"]
            self.conversation_id = frame["conversation_id"]
            self.ack_times.append(time.monotonic())
        elif kind == "error":
            self.errors.append((time.monotonic(), frame["code"]))
            if frame["code"] in ("unavailable", "rate_limited"):  # not stored, or dropped: resend, paced
                self._resend.set()
        elif kind == "message":
            self.live.append(frame["message"])

    async def _send(self, client_id: str, text: str | None) -> None:
        if text is None or self.ws is None or self.ws.closed:
            return  # acked meanwhile, or the welcome of the next socket resends it
        try:
            await self.ws.send_json({"type": "message", "client_id": client_id, "text": text})
        except (aiohttp.ClientError, ConnectionError, RuntimeError):
            pass  # the socket is going; the reconnect resends

    async def resend(self, done: asyncio.Event) -> None:
        """Resend what is pending whenever asked, one frame per RESEND_PACE (below the socket's frame limit)."""
        while not done.is_set():
            await _first(done, self._resend)
            self._resend.clear()
            await _pause(done, RETRY_DELAY)
            for client_id, text in list(self.pending.items()):
                await self._send(client_id, self.pending.get(client_id))
                await _pause(done, RESEND_PACE)

    async def say(self, text: str) -> str:
        client_id = f"{self.name}-{self._n}"
        self._n += 1
        self.pending[client_id] = text
        self.sent_order.append(client_id)
        await self._send(client_id, text)
        return client_id

    async def chat(self, stop: asyncio.Event, rate: float) -> None:
        """Say something every ``1/rate`` s until ``stop``."""
        while not stop.is_set():
            await self.say(f"{self.name} message {self._n}")
            await _pause(stop, 1 / rate)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _pause(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except TimeoutError:
        pass
