"""No secret in any log line at any level, with the real processes an operator runs.

`gateway demo` and `gateway serve` + `gateway worker` (on a password-protected
redis-server) run at DEBUG with every secret configured; the test then sends
requests that carry each secret the way its owner sends it (the demo URL's
``?token=`` and its Referer, the admin bearer token, the SendGrid secret in
its webhook path, Twilio and Slack signatures, visitor tokens on the socket),
makes the jobs call the Twilio and Slack fakes with their tokens, and reads
everything the processes wrote.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from twilio.request_validator import RequestValidator

from channels.webchat.tokens import identifier_hash
from tests.slack.conftest import RULES
from tests.slack.fake_slack import FakeSlack
from tests.slack.signing import event_body
from tests.sms.fake_twilio import FakeTwilio
from tests.support import ROOT, IN_CI, RedisServer, free_port, wait_until

ACCOUNT_SID = "AC" + "5" * 32
OUR_NUMBER = "+15005550006"
SECRETS = {
    "admin token": "adm-Q7vXk2Lp9sRt4WzY",
    "secret key": "sk-H3nB8cVd1eFg6jKm0pQr",
    "SendGrid secret": "sg-Z9yX8wV7uT6sR5qP",
    "Mailgun signing key": "mg-A1bC2dE3fG4hI5jK",
    "Slack bot token": "xoxb-1111-2222-Lq3Rs4Tu5Vw6",
    "Slack signing secret": "slk-N8mM7lL6kK5jJ4hH",
    "Twilio auth token": "tw-P0oO9iI8uU7yY6tT",
    "identity secret": "id-G5fF4dD3sS2aA1zZ",
    "SMTP password": "smtp-X1cC2vV3bB4nN5mM",
}
REDIS_PASSWORD = "rp-W9eE8rR7tT6yY5uU"


def gateway_env(port: int, tmp: Path, twilio_url: str, slack_url: str, **extra: str) -> dict[str, str]:
    rules = tmp / "routing.yaml"
    rules.write_text(RULES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({
        "GATEWAY_PORT": str(port), "GATEWAY_LOG_LEVEL": "DEBUG", "GATEWAY_RULES_PATH": str(rules),
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GATEWAY_ADMIN_TOKEN": SECRETS["admin token"], "GATEWAY_SECRET_KEY": SECRETS["secret key"],
        "GATEWAY_EMAIL__DOMAINS": '["example.com"]', "GATEWAY_EMAIL__SENDGRID_SECRET": SECRETS["SendGrid secret"],
        "GATEWAY_EMAIL__MAILGUN_SIGNING_KEY": SECRETS["Mailgun signing key"],
        "GATEWAY_EMAIL__USERNAME": "mailer", "GATEWAY_EMAIL__PASSWORD": SECRETS["SMTP password"],
        "GATEWAY_SLACK__BOT_TOKEN": SECRETS["Slack bot token"],
        "GATEWAY_SLACK__SIGNING_SECRET": SECRETS["Slack signing secret"], "GATEWAY_SLACK__API_BASE_URL": slack_url,
        "GATEWAY_TWILIO__ACCOUNT_SID": ACCOUNT_SID, "GATEWAY_TWILIO__AUTH_TOKEN": SECRETS["Twilio auth token"],
        "GATEWAY_TWILIO__FROM_NUMBER": OUR_NUMBER, "GATEWAY_TWILIO__API_BASE_URL": twilio_url,
        "GATEWAY_WEBCHAT__IDENTITY_SECRET": SECRETS["identity secret"],
        "GATEWAY_WORKER__SWEEP_INTERVAL_SECONDS": "0.2",
        **extra,
    })
    return env


@dataclass
class Process:
    """A gateway command with stdout and stderr in files (a pipe could fill and stall it)."""

    args: list[str]
    env: dict[str, str]
    tmp: Path
    name: str
    popen: subprocess.Popen[bytes] | None = None
    files: list[Path] = field(default_factory=list)

    def start(self) -> Process:
        out, err = self.tmp / f"{self.name}.out", self.tmp / f"{self.name}.err"
        self.files = [out, err]
        self.popen = subprocess.Popen([sys.executable, "-m", "gateway.cli", *self.args], cwd=ROOT, env=self.env,
                                      stdout=out.open("wb"), stderr=err.open("wb"))
        return self

    def stop(self) -> None:
        assert self.popen is not None
        self.popen.terminate()
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    @property
    def stdout(self) -> str:
        return self.files[0].read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.files[1].read_text(errors="replace")


async def answers(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


def twilio_signature(url: str, form: dict[str, str]) -> str:
    return RequestValidator(SECRETS["Twilio auth token"]).compute_signature(url, form)


def slack_headers(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    digest = hmac.new(SECRETS["Slack signing secret"].encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest.hexdigest()}",
            "Content-Type": "application/json"}


MAIL = (b"From: Ada <ada@customer.example>\r\nTo: support@example.com\r\nSubject: Invoice\r\n"
        b"Message-ID: <redaction-1@customer.example>\r\n\r\nWhere is my invoice?\r\n")


async def exercise(base: str, fake_twilio: FakeTwilio, fake_slack: FakeSlack, *, page: int = 200) -> list[str]:
    """Every request that carries a secret; returns the visitor tokens the gateway issued."""
    admin = SECRETS["admin token"]
    bearer = {"Authorization": f"Bearer {admin}"}
    async with aiohttp.ClientSession() as http:
        # The demo URL (``page``: 404 from `gateway serve`, which serves no page; the access log still
        # has the request), and the page's own requests with the URL in their Referer.
        async with http.get(f"{base}/?token={admin}") as response:
            assert response.status == page
        async with http.get(f"{base}/api/conversations?token={quote(admin)}",
                            headers={**bearer, "Referer": f"{base}/?token={admin}"}) as response:
            assert response.status == 200
        # SendGrid Inbound Parse with its secret in the (legacy) path.
        form = aiohttp.FormData()
        form.add_field("email", MAIL.decode())
        form.add_field("envelope", json.dumps({"from": "ada@customer.example", "to": ["support@example.com"]}))
        async with http.post(f"{base}/email/sendgrid/{SECRETS['SendGrid secret']}", data=form) as response:
            assert response.status == 200, await response.text()
        # Mailgun, signed with its key.
        timestamp, token = str(int(time.time())), "t" * 50
        signature = hmac.new(SECRETS["Mailgun signing key"].encode(), (timestamp + token).encode(),
                             hashlib.sha256).hexdigest()
        form = aiohttp.FormData()
        for name, value in {"timestamp": timestamp, "token": token, "signature": signature,
                            "recipient": "support@example.com", "sender": "bo@customer.example"}.items():
            form.add_field(name, value)
        form.add_field("body-mime", MAIL.replace(b"Ada <ada@", b"Bo <bo@").replace(b"redaction-1", b"redaction-2"),
                       filename="message.mime", content_type="message/rfc822")
        async with http.post(f"{base}/email/mailgun/mime", data=form) as response:
            assert response.status == 200, await response.text()
        # An SMS, signed with the Twilio auth token; the agent's reply goes out through the Twilio client.
        sms = {"MessageSid": "SM" + "7" * 32, "AccountSid": ACCOUNT_SID, "From": "+14155550100", "To": OUR_NUMBER,
               "Body": "My parcel is late", "NumMedia": "0"}
        async with http.post(f"{base}/sms/twilio", data=sms,
                             headers={"X-Twilio-Signature": twilio_signature(f"{base}/sms/twilio", sms)}) as response:
            assert response.status == 200, await response.text()
        async with http.get(f"{base}/api/conversations?channel=sms", headers=bearer) as response:
            [conversation] = (await response.json())["conversations"]
        async with http.post(f"{base}/api/conversations/{conversation['id']}/messages", headers=bearer,
                             json={"text": "It ships today", "author": "Grace"}) as response:
            assert response.status == 201
        # A signed Slack event (a customer writing to the app by DM).
        body = event_body({"type": "message", "channel": "D0CUSTOMER", "channel_type": "im", "user": "UCUSTOMER",
                           "text": "hello from Slack", "ts": "1700000000.000100"}, event_id="Ev0REDACT")
        async with http.post(f"{base}/slack/events", data=body, headers=slack_headers(body)) as response:
            assert response.status == 200
        # Web chat: an anonymous visitor, the same visitor back with its token, then a verified one.
        visitor_tokens = []
        identifier = "ada@customer.example"
        hellos = [{"name": "Ada"}, None,
                  {"identifier": identifier,
                   "identifier_hash": identifier_hash(SECRETS["identity secret"].encode(), identifier)}]
        for hello in hellos:
            frame = hello if hello is not None else {"visitor_token": visitor_tokens[0]}
            async with http.ws_connect(f"{base.replace('http', 'ws')}/webchat/ws") as ws:
                await ws.send_json({"type": "hello", **frame})
                welcome = await receive(ws, "welcome")
                visitor_tokens.append(welcome["visitor_token"])
                await ws.send_json({"type": "message", "client_id": f"c-{len(visitor_tokens)}", "text": "hi"})
                await receive(ws, "ack")
    # The jobs ran and used their tokens: the SMS went out, the console posted to Slack.
    await wait_until(lambda: fake_twilio.sent, timeout=30, what="the reply SMS to reach the Twilio fake")
    await wait_until(lambda: fake_slack.messages, timeout=30, what="a Slack console post")
    assert fake_twilio.requests[0]["authorization"].startswith("Basic ")
    return visitor_tokens


async def receive(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict:
    async with asyncio.timeout(10):
        while True:
            frame = await ws.receive_json()
            if frame["type"] == kind:
                return frame


def forbidden_values(visitor_tokens: list[str]) -> dict[str, str]:
    """Each secret, the forms it travels in, and the credential part of each visitor token."""
    values: dict[str, str] = {}
    for name, secret in {**SECRETS, "Redis password": REDIS_PASSWORD}.items():
        values[name] = secret
        values[f"{name} (URL-quoted)"] = quote(secret, safe="")
    basic = f"{ACCOUNT_SID}:{SECRETS['Twilio auth token']}"
    values["Twilio basic auth"] = base64.b64encode(basic.encode()).decode()
    for index, token in enumerate(visitor_tokens):
        values[f"visitor token {index}"] = token
        values[f"visitor token {index} signature"] = token.rsplit(".", 1)[1]
    return values


def assert_no_secret(name: str, text: str, visitor_tokens: list[str]) -> None:
    leaks = [what for what, value in forbidden_values(visitor_tokens).items() if value in text]
    assert not leaks, f"{name} wrote {', '.join(leaks)}"


@pytest.fixture
async def fakes(aiohttp_server):
    twilio, slack = FakeTwilio(), FakeSlack(bot_token=SECRETS["Slack bot token"])
    twilio_server, slack_server = await aiohttp_server(twilio.app()), await aiohttp_server(slack.app())
    twilio.url, slack.base_url = str(twilio_server.make_url("/")), str(slack_server.make_url("/api/"))
    return twilio, slack


async def test_demo_at_debug_writes_no_secret(fakes, tmp_path):
    twilio, slack = fakes
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = Process(["demo"], gateway_env(port, tmp_path, twilio.url, slack.base_url), tmp_path, "demo").start()
    try:
        async with aiohttp.ClientSession() as http:
            await wait_until(lambda: answers(http, f"{base}/healthz"), timeout=30, what="the demo to start")
        visitor_tokens = await exercise(base, twilio, slack, page=200)
    finally:
        demo.stop()
    log = demo.stderr
    assert_no_secret("the demo's log", log, visitor_tokens)
    assert_no_secret("the demo's stdout", demo.stdout, visitor_tokens)
    assert " DEBUG " in log, "the demo did not log at DEBUG"
    assert '"GET /?token=[redacted] HTTP/1.1" 200' in log
    assert '"POST /email/sendgrid/[redacted] HTTP/1.1" 200' in log
    assert f'"{base}/?token=[redacted]"' in log  # the Referer
    assert "twilio.http_client" in log and "slack_sdk" in log  # the clients logged their requests
    assert "admin API token: the one in GATEWAY_ADMIN_TOKEN" in demo.stdout


async def test_demo_prints_a_generated_token_once_and_never_logs_it(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env.update({"GATEWAY_PORT": str(port), "GATEWAY_LOG_LEVEL": "DEBUG"})
    demo = Process(["demo"], env, tmp_path, "demo").start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            await wait_until(lambda: answers(http, f"{base}/healthz"), timeout=30, what="the demo to start")
            banner = demo.stdout
            token = banner.split("?token=", 1)[1].split()[0]
            async with http.get(f"{base}/?token={token}") as response:
                assert response.status == 200
            async with http.get(f"{base}/api/conversations", headers={"Authorization": f"Bearer {token}"}) as response:
                assert response.status == 200
    finally:
        demo.stop()
    assert demo.stdout.count(token) == 2  # the banner's URL and its "admin API token:"
    assert token not in demo.stderr and '"GET /?token=[redacted] HTTP/1.1" 200' in demo.stderr


async def test_serve_and_worker_at_debug_write_no_secret(fakes, tmp_path):
    twilio, slack = fakes
    try:
        redis_server = RedisServer(password=REDIS_PASSWORD)
    except FileNotFoundError as error:
        if IN_CI:
            pytest.fail(f"CI needs a real redis-server: {error}")
        pytest.skip(str(error))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = gateway_env(port, tmp_path, twilio.url, slack.base_url, GATEWAY_REDIS_URL=redis_server.url)
    serve = Process(["serve"], env, tmp_path, "serve").start()
    worker = Process(["worker"], env, tmp_path, "worker").start()
    try:
        async with aiohttp.ClientSession() as http:
            await wait_until(lambda: answers(http, f"{base}/readyz"), timeout=30, what="gateway serve to be ready")
        visitor_tokens = await exercise(base, twilio, slack, page=404)
    finally:
        worker.stop()
        serve.stop()
        redis_server.stop()
    for process in (serve, worker):
        assert_no_secret(f"gateway {process.name}", process.stderr + process.stdout, visitor_tokens)
    assert " DEBUG " in serve.stderr and " DEBUG " in worker.stderr + worker.stdout
    assert '"POST /email/sendgrid/[redacted] HTTP/1.1" 200' in serve.stderr
