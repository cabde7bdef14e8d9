"""Mail from anyone, as an attacker would send it: huge HTML, absurd nesting, bodies that never end.

Real SMTP through the listener, real multipart webhooks, real sockets where the
point is what the server does before the body has arrived.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import aiosmtplib
import pytest

from tests.conftest import ADMIN_TOKEN, admin_headers

from tests.email.conftest import (
    MAILGUN_KEY,
    SENDGRID_SECRET,
    SUPPORT,
    conversations,
    customer_mail,
    email_gateway,
    email_settings,
    mailgun_fields,
    smtp_send,
    timeline,
)
from tests.email.test_webhooks import form
from tests.support import ROOT, free_port, wait_until, wait_until_sync
from tests.workers.processes import descendants
from workers import context

ROW = ('<tr><td style="font-family:Arial;color:#333"><div><span>Quarterly figures &amp; notes for the '
       'team</span></div></td></tr>\r\n')


def html_mail(size: int, *, first_words: str = "Please cancel order 4411 before it ships.") -> bytes:
    """An HTML-only mail of about ``size`` bytes, 8bit, built directly (lines well under SMTP's 998)."""
    head = (f"From: Ada <ada@customer.example>\r\nTo: {SUPPORT}\r\nSubject: big\r\n"
            f"Message-ID: <big-{size}@customer.example>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"<html><body><p>{first_words}</p><table>\r\n").encode()
    rows = ROW.encode() * (size // len(ROW))
    return head + rows + b"</table></body></html>\r\n"


def nested_mail(depth: int) -> bytes:
    """multipart/mixed inside multipart/mixed, ``depth`` levels, a text part at the bottom."""
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                       for i in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return (b"From: ada@customer.example\r\nTo: support@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
            + opening + b"Content-Type: text/plain\r\n\r\nhello" + closing)


@pytest.fixture
async def big_mail_gateway(aiohttp_client, sink):
    client = await email_gateway(aiohttp_client, email_settings(
        sink.port, email={"max_message_bytes": 27 * 1024 * 1024}))
    yield client
    context.install(None)


@pytest.fixture
def served_gateway(redis_url, builtin_rules_file):
    """``gateway serve`` in its own process (its heap, its loop), taking mail up to 27 MB by SMTP."""
    http_port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_REDIS_URL": redis_url, "GATEWAY_PORT": str(http_port), "GATEWAY_SECRET_KEY": "s" * 32,
                "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN, "GATEWAY_RULES_PATH": str(builtin_rules_file),
                "GATEWAY_LOG_LEVEL": "WARNING", "GATEWAY_EMAIL__SMTP_LISTEN_HOST": "127.0.0.1",
                "GATEWAY_EMAIL__SMTP_LISTEN_PORT": str(smtp_port), "GATEWAY_EMAIL__DOMAINS": '["example.com"]',
                "GATEWAY_EMAIL__MAX_MESSAGE_BYTES": str(27 * 1024 * 1024)})
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_sync(lambda: process.poll() is not None or (_answers(http_port) and _listens(smtp_port)),
                        timeout=30, what="gateway serve to answer")
        assert process.poll() is None, process.communicate()[1]
        yield f"http://127.0.0.1:{http_port}", smtp_port
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert "Traceback" not in errors, errors


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _listens(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# A customer's mail server: its own process, so the test process does nothing but poll.
SEND = ("import smtplib, sys; smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=120).sendmail("
        "'ada@customer.example', ['support@example.com'], open(sys.argv[2], 'rb').read())")


async def test_healthz_answers_at_once_while_a_25_mb_html_mail_is_read(served_gateway, tmp_path):
    base, smtp_port = served_gateway
    mail = tmp_path / "big.eml"
    mail.write_bytes(html_mail(25 * 1024 * 1024))

    latencies: list[float] = []
    gc.disable()  # the test process's own collector pauses are not the gateway's
    try:
        async with aiohttp.ClientSession() as http:
            # Niced: on a busy machine the sender must not take the CPU the gateway answers with.
            sender = await asyncio.create_subprocess_exec(sys.executable, "-c", SEND, str(smtp_port), str(mail),
                                                          preexec_fn=lambda: os.nice(19))
            sending = asyncio.create_task(sender.wait())
            while not sending.done():
                started = time.perf_counter()
                async with http.get(f"{base}/healthz") as response:
                    assert response.status == 200
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)  # pacing, ~100 polls a second: a monitor, not a load test
            assert await sending == 0  # 250: stored, so the parse is over
            async with http.get(f"{base}/api/conversations", headers=admin_headers()) as response:
                [conversation] = (await response.json())["conversations"]
            async with http.get(f"{base}/api/conversations/{conversation['id']}", headers=admin_headers()) as response:
                [message] = [m for m in (await response.json())["messages"] if m["direction"] == "inbound"]
    finally:
        gc.enable()

    ordered = sorted(latencies)
    p95 = ordered[int(len(ordered) * 0.95)]
    over = sum(1 for seconds in latencies if seconds >= 0.1)
    print(f"\n/healthz: {len(latencies)} answers, median {ordered[len(ordered) // 2] * 1000:.1f} ms, "
          f"95th percentile {p95 * 1000:.1f} ms, slowest {ordered[-1] * 1000:.1f} ms, {over} at 100 ms or more")
    assert len(latencies) > 20, latencies  # it polled all along, not once
    # Issue 10: /healthz answers within 100 ms while the mail is read. On a shared, loaded CI machine the OS
    # scheduler alone parks a process for a few hundred ms now and then, so: 95% of answers within 100 ms,
    # and none near the multi-second stalls of parsing on the loop (33 s before).
    assert p95 < 0.1, f"95th percentile /healthz {p95:.3f}s of {len(latencies)}"
    assert ordered[-1] < 1.0, f"slowest /healthz {ordered[-1]:.3f}s of {len(latencies)}"
    assert message["text"].startswith("Please cancel order 4411 before it ships.")
    assert "HTML cut to its first 512 KiB" in message["meta"]["parse_problems"]


async def test_multipart_nested_1200_deep_is_refused_by_smtp_with_550_and_nothing_stored(big_mail_gateway):
    mail_gateway = big_mail_gateway
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await smtp_send(mail_gateway, nested_mail(1200))
    assert refused.value.code == 550 and "nested MIME parts" in refused.value.message
    assert await conversations(mail_gateway) == []


async def test_multipart_nested_1200_deep_is_refused_by_the_webhooks_and_nothing_stored(big_mail_gateway):
    mail_gateway = big_mail_gateway
    response = await mail_gateway.post("/email/mailgun/mime", data=form(mailgun_fields(nested_mail(1200))))
    assert response.status == 406 and "nested" in (await response.json())["error"]
    response = await mail_gateway.post(f"/email/sendgrid/{SENDGRID_SECRET}",
                                       data=form({"email": nested_mail(1200).decode()}))
    assert response.status == 400 and "nested" in (await response.json())["error"]
    assert await conversations(mail_gateway) == []


async def test_a_mail_nested_a_few_levels_is_read_normally(mail_gateway):
    await smtp_send(mail_gateway, nested_mail(20))
    [conversation_id] = await conversations(mail_gateway)
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["hello"]


def many_parts_mail(parts: int) -> bytes:
    """One multipart/mixed with ``parts`` one-byte attachments: small, and slow to parse.

    Each part has a name of its own: the parser reads a header value once per mail, so identical
    parts would be cheaper than a sender out to waste our CPU makes them.
    """
    files = b"".join(b'--p\r\nContent-Type: application/octet-stream\r\n'
                     b'Content-Disposition: attachment; filename="a%d.bin"\r\n\r\nx\r\n' % n for n in range(parts))
    return (b"From: ada@customer.example\r\nTo: support@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="p"\r\n\r\n--p\r\nContent-Type: text/plain\r\n\r\nhello\r\n'
            + files + b"--p--\r\n")


async def test_a_mail_that_needs_more_than_the_parse_budget_is_refused(aiohttp_client, sink):
    client = await email_gateway(aiohttp_client, email_settings(
        sink.port, email={"max_message_bytes": 4 * 1024 * 1024, "parse_seconds": 1.0}))
    try:
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await smtp_send(client, many_parts_mail(20_000))  # 2 MB; many seconds of CPU
        assert refused.value.code == 550 and "of CPU to read" in refused.value.message
        assert await conversations(client) == []
        await smtp_send(client, customer_mail("a normal mail right after"))  # the worker is still fine
        assert len(await conversations(client)) == 1
    finally:
        context.install(None)


# -- bodies refused before they are read ------------------------------------------------------------


async def raw_request(client, head: str, body: bytes = b"", *, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send ``head`` (and the start of a body) on a raw socket; the status line the server answers with.

    The server must answer without the rest of the body: the socket stays open, nothing more is sent.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout)
        return int(status_line.split()[1]), status_line
    finally:
        writer.close()


async def test_a_content_length_over_the_cap_is_refused_before_the_body_is_read(mail_gateway):
    huge = 10 * 1024 * 1024 * 1024
    for path, expected in (("/email/mailgun/mime", 406), (f"/email/sendgrid/{SENDGRID_SECRET}", 413)):
        head = (f"POST {path} HTTP/1.1\r\nHost: gateway\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                f"Content-Length: {huge}\r\n\r\n")
        status, _ = await raw_request(mail_gateway, head)
        assert status == expected
    assert await conversations(mail_gateway) == []


async def test_a_forged_mailgun_signature_sent_first_is_refused_before_the_mail_is_read(big_mail_gateway):
    mail_gateway = big_mail_gateway
    fields = mailgun_fields(b"", key="not-the-key")
    parts = "".join(f'--x\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{fields[name]}\r\n'
                    for name in ("timestamp", "token", "signature"))
    # The start of a 20 MB mail: the server reads a little past the signature, never to the end.
    start_of_mime = ('--x\r\nContent-Disposition: form-data; name="body-mime"\r\n\r\nFrom: a@b.example\r\n'
                     + ("x" * 200 + "\r\n") * 1000)
    head = ("POST /email/mailgun/mime HTTP/1.1\r\nHost: gateway\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 20000000\r\n\r\n")
    status, _ = await raw_request(mail_gateway, head, (parts + start_of_mime).encode())
    assert status == 403
    assert await conversations(mail_gateway) == []


async def test_mailgun_fields_in_any_order_are_accepted(mail_gateway):
    fields = mailgun_fields(customer_mail("mime first").as_bytes())
    reordered = {"body-mime": fields.pop("body-mime"), **fields}
    response = await mail_gateway.post("/email/mailgun/mime", data=form(reordered))
    assert response.status == 200, await response.text()
    [conversation_id] = await conversations(mail_gateway)
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["mime first"]


async def test_an_oversized_small_field_is_refused(mail_gateway):
    fields = {**mailgun_fields(customer_mail("hi").as_bytes()), "subject": "s" * 20_000}
    response = await mail_gateway.post("/email/mailgun/mime", data=form(fields))
    assert response.status == 406 and "too long" in (await response.json())["error"]
    assert await conversations(mail_gateway) == []


@pytest.mark.parametrize("timestamp", ["inf", "nan", "-inf", "NaN", "Infinity", "1e9", "0x10"])
async def test_a_signed_mailgun_timestamp_that_is_not_plain_seconds_is_refused_with_403(mail_gateway, timestamp):
    fields = mailgun_fields(customer_mail("hi").as_bytes())
    fields["timestamp"] = timestamp  # correctly signed: the signature covers whatever the timestamp says
    fields["signature"] = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{fields['token']}".encode(),
                                   hashlib.sha256).hexdigest()
    response = await mail_gateway.post("/email/mailgun/mime", data=form(fields))
    assert response.status == 403, await response.text()
    assert await conversations(mail_gateway) == []


# -- the parser pool ---------------------------------------------------------------------------------------


def parser_workers() -> list[int]:
    """The mail parser worker processes: children of this test process's multiprocessing fork server."""
    def cmdline(pid: int) -> str:
        try:
            return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return ""

    def parent(pid: int) -> int:
        try:
            return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return 0

    return [pid for pid in descendants(os.getpid())
            if "forkserver" in cmdline(pid) and "forkserver" in cmdline(parent(pid))]


async def test_a_dead_parser_worker_costs_one_retry_and_the_next_mail_gets_a_new_one(mail_gateway):
    await smtp_send(mail_gateway, customer_mail("first"))
    ours = os.getpriority(os.PRIO_PROCESS, 0)

    def started() -> list[int]:
        # Both workers up and past their start-up (which lowers their priority: background work).
        workers = parser_workers()
        niceness = {os.getpriority(os.PRIO_PROCESS, pid) for pid in workers}
        return workers if len(workers) == 2 and niceness == {ours + 5} else []

    workers = await wait_until(started, what="two parser workers at a lower priority")
    for pid in workers:
        os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would

    with pytest.raises(aiosmtplib.SMTPResponseException) as deferred:
        await smtp_send(mail_gateway, customer_mail("while the pool is broken"))
    assert deferred.value.code == 451  # nothing stored; the sender tries again
    await smtp_send(mail_gateway, customer_mail("after", message_id="<after@customer.example>"))
    [conversation_id] = await conversations(mail_gateway)
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["first", "after"]


async def test_the_old_sendgrid_url_still_works_and_says_once_that_it_is_deprecated(mail_gateway, caplog,
                                                                                    monkeypatch):
    from channels.email import webhooks

    monkeypatch.setattr(webhooks, "_legacy_warned", False)  # once per process: this test's process
    caplog.set_level(logging.WARNING, logger="gateway.email.webhooks")
    for n in (1, 2):
        response = await mail_gateway.post(f"/email/sendgrid/{SENDGRID_SECRET}",
                                           data=form({"email": customer_mail(f"legacy {n}").as_string()}))
        assert response.status == 200
    [warning] = [r.getMessage() for r in caplog.records if r.name == "gateway.email.webhooks"]
    assert "old URL" in warning and SENDGRID_SECRET not in warning


async def test_more_than_100_recipients_are_deferred_and_the_mail_is_stored_once(mail_gateway):
    recipients = [f"support+{n}@example.com" for n in range(101)]
    errors, _ = await aiosmtplib.send(customer_mail("to everyone"), sender="ada@customer.example",
                                      recipients=recipients, hostname="127.0.0.1", port=mail_gateway.smtp_port,
                                      start_tls=False)
    assert {address: (code, text) for address, (code, text) in errors.items()} == {
        recipients[100]: (452, "4.5.3 Too many recipients")}
    [conversation_id] = await conversations(mail_gateway)
    assert [m.text for m in await timeline(mail_gateway, conversation_id, "inbound")] == ["to everyone"]


async def test_a_mail_with_thousands_of_parts_lists_the_first_100_attachments(big_mail_gateway):
    await smtp_send(big_mail_gateway, many_parts_mail(3_000))
    [conversation_id] = await conversations(big_mail_gateway)
    [message] = await timeline(big_mail_gateway, conversation_id, "inbound")
    assert message.text == "hello"
    assert len(message.attachments) == 101 and message.attachments[-1].name == "(more attachments not listed)"
