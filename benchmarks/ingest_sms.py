"""Twilio SMS webhooks per second: the bare aiohttp ceiling, then the gateway, same client, same run.

32 concurrent clients post correctly signed inbound-message webhooks (signed
before the clock starts, so the client's HMAC work is not measured); each
conversation gets 10 messages from its own number. The bare server reads the
form and answers TwiML; the gateway verifies, parses, stores (real
redis-server), routes, and answers only once the message is stored.

    python -m benchmarks.ingest_sms [--requests 4000] [--concurrency 32] [--web-processes 1] [--levers]
"""

from __future__ import annotations

import argparse
import asyncio
import os

import aiohttp
from twilio.request_validator import RequestValidator

from benchmarks import harness
from benchmarks.harness import Result

PATH = "/sms/twilio"


def signed_requests(total: int, seed: int = 0) -> list[tuple[dict[str, str], str]]:
    """``total`` inbound webhooks, 10 per sender, each with its X-Twilio-Signature.

    ``seed`` picks another range of senders and message ids (warm-up traffic stays apart).
    """
    validator = RequestValidator(harness.TWILIO_TOKEN)
    customers = max(1, total // 10)
    out = []
    for n in range(total):
        sid = f"SM{seed:04d}{n:028d}"
        form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": harness.TWILIO_ACCOUNT,
                "From": f"+1{212 + seed:03d}{2000000 + n % customers:07d}",
                "To": harness.OUR_NUMBER, "Body": f"Hello, message {n // customers} about my order 12{n:04d}",
                "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"}
        out.append((form, validator.compute_signature(harness.PUBLIC_URL + PATH, form)))
    return out


async def load(ports: list[int], requests: list[tuple[dict[str, str], str]],
               concurrency: int) -> tuple[float, list[float]]:
    """Requests spread round robin over ``ports`` (one per web process)."""
    urls = [f"http://127.0.0.1:{port}{PATH}" for port in ports]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one(n: int) -> None:
            form, signature = requests[n]
            async with session.post(urls[n % len(urls)], data=form, headers={"X-Twilio-Signature": signature}) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"webhook answered {response.status}: {await response.text()}")

        return await harness.closed_loop(concurrency, len(requests), one)


async def half_peak_latency(port: int, requests: list[tuple[dict[str, str], str]], rate: float) -> list[float]:
    url = f"http://127.0.0.1:{port}{PATH}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        async def one(n: int) -> None:
            form, signature = requests[n]
            async with session.post(url, data=form, headers={"X-Twilio-Signature": signature}) as response:
                await response.read()

        return await harness.open_loop(rate, len(requests), one)


async def run(requests: int = 4000, concurrency: int = 32, web_processes: int = 1,
              compare_loop: bool = False, levers: bool = False) -> Result:
    result = Result("ingest_sms", goal=">= 40% of bare; p99 < 50 ms at half the peak")
    print(f"ingest_sms: {requests} signed webhooks, {concurrency} concurrent clients", flush=True)
    batch = signed_requests(requests)
    with harness.bare("sms") as port:
        await load([port], batch[: min(200, requests)], concurrency)  # warm up
        elapsed, latencies = await load([port], batch, concurrency)
    bare_rate = requests / elapsed
    result.add("bare aiohttp (TwiML, stores nothing)", f"{bare_rate:,.0f} req/s, {harness.latency_text(latencies)}")
    with harness.redis_server() as server, harness.gateways(server.url, 1) as ports:
        await load(ports, signed_requests(min(200, requests), seed=9), concurrency)  # warm up
        elapsed, latencies = await load(ports, batch, concurrency)
        rate = requests / elapsed
        result.add("gateway, 1 web process", f"{rate:,.0f} req/s, {harness.latency_text(latencies)}")
        half = signed_requests(min(requests, max(200, int(rate * 5))), seed=7)
        steady = await half_peak_latency(ports[0], half, rate / 2)
        result.add(f"gateway at half its peak ({rate / 2:,.0f} req/s, open loop)", harness.latency_text(steady))
    result.ratio = rate / bare_rate
    if compare_loop:
        with harness.redis_server() as server, harness.gateways(server.url, 1, GATEWAY_EVENT_LOOP="asyncio") as ports:
            await load(ports, signed_requests(min(200, requests), seed=9), concurrency)
            elapsed, latencies = await load(ports, batch, concurrency)
        result.add("gateway, 1 web process, standard asyncio loop (lever: uvloop off)",
                   f"{requests / elapsed:,.0f} req/s, {harness.latency_text(latencies)}")
        result.data["gateway_asyncio"] = requests / elapsed
    if levers:
        for label, env in harness.INGEST_LEVERS:
            with harness.redis_server() as server, harness.gateways(server.url, 1, **env) as ports:
                await load(ports, signed_requests(min(200, requests), seed=9), concurrency)
                elapsed, latencies = await load(ports, batch, concurrency)
            result.add(f"gateway, 1 web process, {label}", f"{requests / elapsed:,.0f} req/s, "
                       f"{harness.latency_text(latencies)} ({requests / elapsed / bare_rate:.0%} of bare)")
            result.data[label] = requests / elapsed
    if web_processes > 1:
        with harness.redis_server() as server, harness.gateways(server.url, web_processes) as ports:
            await load(ports, signed_requests(min(200, requests), seed=9), concurrency)
            elapsed, latencies = await load(ports, batch, concurrency)
        result.add(f"gateway, {web_processes} web processes", f"{requests / elapsed:,.0f} req/s, "
                   f"{harness.latency_text(latencies)} ({requests / elapsed / bare_rate:.0%} of one bare process)")
        result.data["gateway_multi"] = requests / elapsed
    p99 = harness.percentile(steady, 0.99)
    result.met = result.ratio >= 0.40 and p99 < 0.050
    result.data.update({"bare": bare_rate, "gateway": rate, "p99_half": p99})
    result.show()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--web-processes", type=int, default=1, help="also measure this many web processes")
    parser.add_argument("--compare-loop", action="store_true", help="also measure the standard asyncio loop")
    parser.add_argument("--levers", action="store_true", help="also measure with the ingest levers switched off")
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.concurrency, args.web_processes, args.compare_loop, args.levers))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
