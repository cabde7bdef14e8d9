"""Emails per second over SMTP: bare aiosmtpd (accept and discard), then the gateway's listener.

A generated, realistic corpus: multipart/alternative mails (plain text and
HTML), a signature, some with an attachment, and about 20% replies that quote
an earlier mail of the same customer and carry its In-Reply-To/References.
8 SMTP connections each send their share of the corpus over one session; a
mail counts when the server answered 250 (on the gateway: stored in Redis).

    python -m benchmarks.ingest_email [--mails 2000] [--connections 8] [--web-processes 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import UTC, datetime, timedelta

import aiosmtplib

from benchmarks import harness
from benchmarks.harness import Result

TOPICS = [
    ("Invoice {n} charged twice", "I was charged twice for invoice {n} this month. Could you refund one of them?"),
    ("Cannot log in", "Since yesterday the app says my password is wrong, although I reset it twice."),
    ("Delivery of order {n}", "My order {n} was supposed to arrive on Monday and the tracking has not moved."),
    ("Question about my plan", "Can I switch from the basic plan to pro in the middle of the month?"),
    ("App crashes on start", "The app crashes every time I open the settings page on Android 14."),
]
SIGNATURE = "\n-- \n{name}\n{company}\nPhone +1 415 555 {n:04d}\n"


def corpus(count: int, *, reply_share: float = 0.2, seed: int = 5) -> list[tuple[str, bytes]]:
    """``count`` mails as (sender, raw bytes); about ``reply_share`` answer an earlier mail of their sender."""
    rng = random.Random(seed)
    customers = max(1, count // 3)
    sent: dict[int, list[EmailMessage]] = {}
    mails = []
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for n in range(count):
        who = rng.randrange(customers)
        sender = f"customer{who}@mail{who % 17}.example"
        name = f"Customer {who}"
        earlier = sent.get(who)
        message = EmailMessage()
        message["From"] = f"{name} <{sender}>"
        message["To"] = f"help@{harness.EMAIL_DOMAIN}"
        message["Date"] = format_datetime(start + timedelta(minutes=n))
        message["Message-ID"] = make_msgid(idstring=str(n), domain=f"mail{who % 17}.example")
        subject, body = rng.choice(TOPICS)
        body = body.format(n=rng.randint(10000, 99999))
        if earlier and rng.random() < reply_share * 1.5:  # two in three mails have an earlier one: ~20% replies
            parent = earlier[-1]
            message["Subject"] = "Re: " + str(parent["Subject"]).removeprefix("Re: ")
            message["In-Reply-To"] = parent["Message-ID"]
            message["References"] = parent["Message-ID"]
            quoted = "\n".join("> " + line for line in _text(parent).splitlines())
            body = (f"Thanks, but this is still not solved.\n\nOn {parent['Date']}, {name} <{sender}> wrote:\n"
                    f"{quoted}")
        else:
            message["Subject"] = subject.format(n=rng.randint(10000, 99999))
        text = "Hello,\n\n" + body + SIGNATURE.format(name=name, company=f"Company {who % 50}", n=who % 10000)
        message.set_content(text)
        html = "".join(f"<p>{line}</p>" for line in text.splitlines() if line)
        message.add_alternative(f"<html><body><div>{html}</div></body></html>", subtype="html")
        if rng.random() < 0.1:
            message.add_attachment(bytes(rng.randrange(256) for _ in range(4096)), maintype="application",
                                   subtype="pdf", filename=f"invoice-{n}.pdf")
        sent.setdefault(who, []).append(message)
        mails.append((sender, message.as_bytes()))
    return mails


def warm_up_mails(count: int) -> list[tuple[str, bytes]]:
    """Mails from senders outside the corpus, sent before the clock starts (the gateway starts its
    parser workers in the background, so the first mails would time the start-up, not the path)."""
    mails = []
    for n in range(count):
        message = EmailMessage()
        message["From"] = sender = f"warm-up{n}@warm.example"
        message["To"] = f"help@{harness.EMAIL_DOMAIN}"
        message["Subject"] = "warm-up"
        message["Message-ID"] = make_msgid(idstring=f"warm-up{n}", domain="warm.example")
        message.set_content("warming up")
        mails.append((sender, message.as_bytes()))
    return mails


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    return str(part.get_content()) if part is not None else ""


async def load(ports: int | list[int], mails: list[tuple[str, bytes]],
               connections: int) -> tuple[float, list[float]]:
    """Send ``mails`` over ``connections`` SMTP sessions, spread round-robin over ``ports``."""
    recipient = f"help@{harness.EMAIL_DOMAIN}"
    latencies: list[float] = []
    targets = [ports] if isinstance(ports, int) else ports
    shares = [(targets[i % len(targets)], mails[i::connections]) for i in range(connections)]

    async def connection(port: int, share: list[tuple[str, bytes]]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, timeout=60)
        await client.connect()
        try:
            for sender, raw in share:
                started = time.perf_counter()
                errors, answer = await client.sendmail(sender, [recipient], raw)
                if errors or not answer.startswith("2"):
                    raise RuntimeError(f"mail refused: {errors or answer}")
                latencies.append(time.perf_counter() - started)
        finally:
            await client.quit()

    started = time.perf_counter()
    await asyncio.gather(*(connection(port, share) for port, share in shares if share))
    return time.perf_counter() - started, latencies


# Which process a CPU second belongs to, by its command line (the parser workers are forked from the
# multiprocessing fork server the web process starts; a worker that ended is in the server's cutime).
ROLES = (("redis-server", "redis"), ("forkserver", "parsers"), ("gateway.cli", "web"), ("benchmarks.bare", "bare"))


def cpu_by_role() -> Counter[str]:
    """CPU seconds so far of this process ("client") and each of its descendants, summed by role.

    Read from /proc (Linux); on a shared machine the rate moves with the neighbours' load, the
    CPU each process spends per mail much less, so it says where the time goes.
    """
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    stats: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        parents[int(entry.name)] = int(fields[1])
        # utime, stime, cutime, cstime (fields 14-17 of proc(5); here from the state on)
        stats[int(entry.name)] = (command, sum(int(value) for value in fields[11:15]) / tick)
    mine = {os.getpid()}
    changed = True  # a child may have a lower pid than its parent: repeat until nothing is added
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                changed = True
    used: Counter[str] = Counter()
    own = os.times()
    used["client"] = own.user + own.system
    for pid in mine - {os.getpid()}:
        command, seconds = stats[pid]
        role = next((name for marker, name in ROLES if marker in command), "other")
        used[role] += seconds
    return used


def cpu_text(before: Counter[str], after: Counter[str], mails: int) -> str:
    spent = {role: (after[role] - before[role]) / mails * 1000 for role in after}
    return ", ".join(f"{role} {ms:.2f}" for role, ms in sorted(spent.items(), key=lambda item: -item[1]) if ms > 0)


def gateway_settings(smtp_port: int) -> dict[str, str]:
    return {"GATEWAY_EMAIL__SMTP_LISTEN_PORT": str(smtp_port), "GATEWAY_EMAIL__SMTP_LISTEN_HOST": "127.0.0.1",
            "GATEWAY_EMAIL__DOMAINS": f'["{harness.EMAIL_DOMAIN}"]', "GATEWAY_EMAIL__DOMAIN": harness.EMAIL_DOMAIN}


async def run(mails: int = 2000, connections: int = 8, web_processes: int = 1) -> Result:
    result = Result("ingest_email", goal=">= 40% of bare accept-and-discard")
    batch = corpus(mails)
    replies = sum(1 for _, raw in batch if b"In-Reply-To" in raw)
    print(f"ingest_email: {mails} mails ({replies / mails:.0%} replies, "
          f"{sum(len(r) for _, r in batch) / mails / 1024:.1f} KiB on average), {connections} connections", flush=True)
    with harness.bare("smtp") as port:
        await load(port, warm_up_mails(connections), connections)
        before = cpu_by_role()
        elapsed, latencies = await load(port, batch, connections)
        bare_cpu = cpu_text(before, cpu_by_role(), mails)
    bare_rate = mails / elapsed
    result.add("bare aiosmtpd (accept and discard)", f"{bare_rate:,.0f} mails/s, {harness.latency_text(latencies)}")
    result.add("bare: CPU ms per mail, by process", bare_cpu)
    with harness.redis_server() as server:
        smtp_port = harness.free_port()
        with harness.gateway(server.url, **gateway_settings(smtp_port)):
            await load(smtp_port, warm_up_mails(connections), connections)
            before = cpu_by_role()
            elapsed, latencies = await load(smtp_port, batch, connections)
            gateway_cpu = cpu_text(before, cpu_by_role(), mails)
    rate = mails / elapsed
    result.add("gateway SMTP listener (250 after stored)", f"{rate:,.0f} mails/s, {harness.latency_text(latencies)}")
    result.add("gateway: CPU ms per mail, by process", gateway_cpu)
    if web_processes > 1:  # each web process has its own SMTP port (as behind several MX hosts or a balancer)
        smtp_ports = [harness.free_port() for _ in range(web_processes)]
        with harness.redis_server() as server, ExitStack() as stack:
            for port in smtp_ports:
                stack.enter_context(harness.gateway(server.url, **gateway_settings(port)))
            await load(smtp_ports, warm_up_mails(connections), connections)
            before = cpu_by_role()
            elapsed, latencies = await load(smtp_ports, batch, connections)
            many_cpu = cpu_text(before, cpu_by_role(), mails)
        result.add(f"gateway, {web_processes} web processes", f"{mails / elapsed:,.0f} mails/s "
                   f"({mails / elapsed / bare_rate:.0%} of one bare process), {harness.latency_text(latencies)}")
        result.add(f"gateway, {web_processes} web processes: CPU ms per mail, by process", many_cpu)
        result.data["gateway_processes"] = mails / elapsed
    result.ratio = rate / bare_rate
    result.met = result.ratio >= 0.40
    result.data.update({"bare": bare_rate, "gateway": rate, "replies": replies})
    result.show()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--web-processes", type=int, default=1, help="also measure this many web processes")
    args = parser.parse_args()
    asyncio.run(run(args.mails, args.connections, args.web_processes))


if __name__ == "__main__":
    main()
