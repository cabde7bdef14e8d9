"""The processes as an operator runs them: inert example settings, the demo's announcement, stop signals, the drain."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import smtplib
import socket
import time

import aiohttp
import pytest
import redis
import redis.asyncio as aioredis

from gateway.envvalues import dotenv_names
from gateway.settings import known_names
from tests.conftest import make_settings, start_client
from tests.gateway.proc import GatewayProcess, gateway_env, http_status, run_to_exit, wait_for_status
from tests.router.helpers import MINIMAL
from tests.support import ROOT, free_port, wait_until, wait_until_sync

CHANNEL_ENDPOINTS = ["/slack/events", "/sms/twilio", "/sms/twilio/status", "/email/mailgun/mime",
                     "/email/sendgrid/anything"]


def test_every_name_in_env_example_is_a_setting():
    names = dotenv_names(ROOT / ".env.example")
    assert names and set(names) <= known_names(), set(names) - known_names()


def test_env_example_copied_as_is_turns_no_channel_on(tmp_path, redis_url):
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    port = free_port()
    # Only what a local run needs on top: where Redis is, a key, a free port (the environment wins over .env).
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(port))
    process = GatewayProcess("serve", env=env, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_status(f"{base}/readyz")
        for path in CHANNEL_ENDPOINTS:
            assert http_status(base + path, method="POST", data=b"a=1") == 404, path
        assert http_status(f"{base}/webchat/widget.js") == 200  # web chat needs nothing more
        assert http_status(f"{base}/") == 404  # the demo page belongs to `gateway demo`
    finally:
        code = process.stop()
    output = process.output
    assert code == 0 and "Traceback" not in output
    assert "channels enabled: webchat (anonymous visitors); not configured: sms (empty: " in output
    assert "slack (empty: GATEWAY_SLACK__BOT_TOKEN, GATEWAY_SLACK__SIGNING_SECRET)" in output
    assert "is not a setting" not in output


async def test_a_half_configured_slack_answers_404_not_500(aiohttp_client, fake_backend):
    # The placeholder token of an old .env.example with its empty signing secret.
    fake_backend.settings = make_settings(slack={"bot_token": "xoxb-...", "signing_secret": ""})
    client = await start_client(aiohttp_client, fake_backend)
    response = await client.post("/slack/events", json={"type": "url_verification", "challenge": "c"})
    assert response.status == 404
    assert "not configured" in (await response.json())["error"]


def test_lists_as_comma_separated_values_and_one_bind_rule_in_a_running_process(tmp_path, redis_url):
    port, smtp_port = free_port(), free_port()
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(port),
                      GATEWAY_EMAIL__SMTP_LISTEN_PORT=str(smtp_port), GATEWAY_EMAIL__DOMAINS="acme.test, example.com",
                      GATEWAY_SLACK__CUSTOMER_CHANNELS="C0123")
    process = GatewayProcess("serve", env=env, cwd=tmp_path)
    try:
        wait_for_status(f"http://127.0.0.1:{port}/readyz")
        process.wait_for(f"SMTP listener on 127.0.0.1:{smtp_port}")  # the same host as the web process
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.ehlo("customer.test")
            assert smtp.docmd("MAIL FROM:<ann@customer.test>")[0] == 250
            assert smtp.docmd("RCPT TO:<help@example.com>")[0] == 250
            assert smtp.docmd("RCPT TO:<help@acme.test>")[0] == 250
            assert smtp.docmd("RCPT TO:<help@elsewhere.test>")[0] == 550
    finally:
        assert process.stop() == 0
    assert "email (SMTP listener on 127.0.0.1:" in process.output


def test_the_demo_announces_its_url_only_once_it_accepts_connections(tmp_path):
    port = free_port()
    process = GatewayProcess("demo", env=gateway_env(GATEWAY_PORT=str(port)), cwd=tmp_path)
    try:
        wait_until_sync(lambda: "Gateway demo: agent inbox" in process.output or process.process.poll() is not None,
                        timeout=90, interval=0.005, what="the demo's announcement")
        # Whoever reacts to the line at once gets an answer, not "connection refused".
        assert http_status(f"http://127.0.0.1:{port}/healthz") == 200
        assert http_status(f"http://127.0.0.1:{port}/") == 200  # the demo page, in the demo
    finally:
        code = process.stop()
    assert code == 0 and "Traceback" not in process.output


@pytest.mark.parametrize("command", ["serve", "demo", "worker", "sweeper"])
def test_a_stop_signal_in_the_first_moments_stops_the_process_cleanly(tmp_path, redis_url, command):
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(free_port()))
    if command == "demo":
        del env["GATEWAY_REDIS_URL"]
    # At once: before Python has even imported the gateway (the default action ends it), or just after.
    process = GatewayProcess(command, env=env, cwd=tmp_path)
    process.send(signal.SIGTERM)
    code = process.wait(60)
    process.close()
    assert code in (0, -signal.SIGTERM) and "Traceback" not in process.output, process.output
    # During its start: the signal is kept and acted on; it never serves, and exits 0.
    process = GatewayProcess(command, env=env, cwd=tmp_path)
    process.wait_for("using the built-in rules")
    process.send(signal.SIGINT if command == "worker" else signal.SIGTERM)
    code = process.wait(60)
    process.close()
    assert code == 0 and "Traceback" not in process.output, process.output


async def test_serve_drains_on_sigterm(tmp_path, redis_url):
    """Stop accepting, close web chat sockets with 1001, finish the request in flight, exit 0.

    The request in flight is an agent's reply whose write Redis holds back
    (``CLIENT PAUSE … WRITE``) while the signal arrives. (A request whose body
    is still uploading when the signal comes is dropped by aiohttp: no answer,
    so a provider retries it.)
    """
    port = free_port()
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(port),
                      GATEWAY_ADMIN_TOKEN="admin")
    process = GatewayProcess("serve", env=env, cwd=tmp_path)
    control = aioredis.Redis.from_url(redis_url, decode_responses=True)
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_for_status, f"{base}/readyz")
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"{base}/webchat/ws")
            await ws.send_json({"type": "hello"})
            assert (await ws.receive_json())["type"] == "welcome"
            await ws.send_json({"type": "message", "client_id": "c1", "text": "Where is my parcel?"})
            conversation_id = (await ws.receive_json())["conversation_id"]

            await control.execute_command("CLIENT", "PAUSE", "4000", "WRITE")
            reply = asyncio.create_task(session.post(
                f"{base}/api/conversations/{conversation_id}/messages", headers={"Authorization": "Bearer admin"},
                json={"text": "It left the warehouse today.", "author": "Grace"}))
            await wait_until(lambda: _a_write_is_held(control), timeout=30, what="the reply to wait on Redis")

            process.send(signal.SIGTERM)
            closing = await asyncio.wait_for(ws.receive(), timeout=30)
            assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1001
            await wait_until(lambda: _refused(port), timeout=30, what="the port to stop accepting")
            assert not reply.done()  # still in flight while the process drains
            response = await asyncio.wait_for(reply, timeout=30)
            assert response.status == 201
        code = await asyncio.to_thread(process.wait, 60)
    finally:
        process.close()
        await control.aclose()
    assert code == 0 and "Traceback" not in process.output
    assert "draining" in process.output and "stopped" in process.output


async def _a_write_is_held(control) -> bool:
    return any("b" in client.get("flags", "") for client in await control.client_list())


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        try:
            probe.connect(("127.0.0.1", port))
        except OSError:
            return True
        return False


def test_the_sweeper_finishes_its_pass_and_hands_over_on_sigterm(tmp_path, redis_url):
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k")
    process = GatewayProcess("sweeper", env=env, cwd=tmp_path)
    client = redis.Redis.from_url(redis_url)
    try:
        wait_until_sync(lambda: client.exists("gw:timers:sweeper"), timeout=60, what="the sweeper to lead")
        started = time.monotonic()
        code = process.stop(signal.SIGTERM)
    finally:
        process.close()
    assert code == 0 and "Traceback" not in process.output
    assert "stopped" in process.output and time.monotonic() - started < 30
    assert not client.exists("gw:timers:sweeper")  # released: another sweeper leads at once, not after the TTL
    client.close()


def test_rules_commands_without_a_path_use_the_file_the_gateway_would(tmp_path):
    # No file anywhere: the built-in rules, and where it looked.
    code, output = run_to_exit("rules", "check", env=gateway_env(), cwd=tmp_path)
    assert code == 0 and "built-in rules: OK" in output and str(tmp_path / "routing.yaml") in output
    code, output = run_to_exit("rules", "explain", "--channel", "sms", "hello", env=gateway_env(), cwd=tmp_path)
    assert code == 0 and "GATEWAY_RULES_PATH is not set" in output and "built-in rules" in output
    assert str(tmp_path / "routing.yaml") in output
    # Then routing.yaml in the working directory, as `gateway serve` would read it.
    (tmp_path / "routing.yaml").write_text(MINIMAL)
    code, output = run_to_exit("rules", "check", env=gateway_env(), cwd=tmp_path)
    assert code == 0 and output.startswith("routing.yaml: OK"), output
    # GATEWAY_RULES_PATH from .env, as `gateway serve` reads it.
    (tmp_path / "mine.yaml").write_text(MINIMAL)
    (tmp_path / ".env").write_text("GATEWAY_RULES_PATH=mine.yaml\n")
    code, output = run_to_exit("rules", "check", env=gateway_env(), cwd=tmp_path)
    assert code == 0 and output.startswith("mine.yaml: OK")
    code, output = run_to_exit("rules", "explain", "--channel", "sms", "--json", "hello", env=gateway_env(),
                               cwd=tmp_path)
    assert code == 0 and json.loads(output)["queue"]
