"""GATEWAY_LOG_FORMAT=json: every line a real process writes is one JSON object, ids where they apply."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys

import aiohttp

from conversations.logcontext import about
from gateway.logs import JsonFormatter, TextFormatter
from gateway.redaction import RedactingFilter
from tests.gateway.proc import GatewayProcess, gateway_env, run_to_exit, wait_for_status
from tests.support import free_port, wait_until


def parsed(output: str) -> list[dict]:
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines
    objects = []
    for line in lines:
        value = json.loads(line)  # every line, not just most
        assert isinstance(value, dict) and {"time", "level", "logger", "message"} <= value.keys(), line
        objects.append(value)
    return objects


async def test_web_and_worker_processes_log_one_json_object_per_line_with_the_ids(tmp_path, redis_url):
    port = free_port()
    env = gateway_env(GATEWAY_REDIS_URL=redis_url, GATEWAY_SECRET_KEY="k", GATEWAY_PORT=str(port),
                      GATEWAY_ADMIN_TOKEN="admin", GATEWAY_LOG_FORMAT="json", GATEWAY_LOG_LEVL="debug")
    web = GatewayProcess("serve", env=env, cwd=tmp_path)
    worker = GatewayProcess("worker", env=env, cwd=tmp_path)  # with its sweeper child, same output
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_for_status, f"{base}/readyz")
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{base}/webchat/ws") as ws:
                await ws.send_json({"type": "hello"})
                assert (await ws.receive_json())["type"] == "welcome"
                await ws.send_json({"type": "message", "client_id": "c1", "text": "My invoice is wrong"})
                ack = await ws.receive_json()
                response = await session.post(f"{base}/api/conversations/{ack['conversation_id']}/messages",
                                              json={"text": "Looking into it.", "author": "Grace"},
                                              headers={"Authorization": "Bearer admin"})
                reply = (await response.json())["message"]["id"]
                await wait_until(lambda: reply in worker.output, timeout=90, what="the worker to deliver the reply")
    finally:
        codes = (web.stop(signal.SIGTERM), worker.stop(signal.SIGTERM))
    assert codes == (0, 0)

    web_lines, worker_lines = parsed(web.output), parsed(worker.output)
    stored = [line for line in web_lines if line["message"] == "webchat message stored (opened)"]
    assert stored and stored[0]["conversation_id"] == ack["conversation_id"]
    assert stored[0]["message_id"] == ack["message_id"] and stored[0]["customer_id"].startswith("cus_")
    delivered = [line for line in worker_lines if line.get("message_id") == reply]
    assert delivered and delivered[0]["conversation_id"] == ack["conversation_id"]
    assert any(line["logger"].startswith("rq.") for line in worker_lines)  # RQ's own lines, in JSON too
    assert any("GATEWAY_LOG_LEVL" in line["message"] and line["level"] == "WARNING" for line in web_lines)
    assert any(line["logger"] == "aiohttp.access" for line in web_lines)


def test_the_json_line_carries_the_traceback_and_bound_ids_in_fields():
    logger = logging.getLogger("gateway.test")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logger.makeRecord("gateway.test", logging.ERROR, __file__, 1, "failed on %s", ("x",),
                                   exc_info=sys.exc_info())
    with about(conversation_id="cnv_1", message_id="msg_1"):
        line = JsonFormatter().format(record)
        text = TextFormatter().format(record)
    data = json.loads(line)
    assert "\n" not in line and data["message"] == "failed on x" and data["level"] == "ERROR"
    assert data["conversation_id"] == "cnv_1" and data["message_id"] == "msg_1"
    assert "ValueError: boom" in data["exception"]
    assert "failed on x [conversation_id=cnv_1 message_id=msg_1]" in text.splitlines()[0]


def test_a_refused_start_is_one_json_line_too(tmp_path):
    env = gateway_env(GATEWAY_LOG_FORMAT="json", GATEWAY_REDIS_URL="localhost:6379", GATEWAY_SECRET_KEY="k")
    code, output = run_to_exit("worker", env=env, cwd=tmp_path)
    [line] = parsed(output)
    assert code == 2 and line["level"] == "CRITICAL" and "GATEWAY_REDIS_URL" in line["message"]


def test_json_lines_go_through_the_redacting_filter_tracebacks_included():
    secret = "s3cret-admin-token-value"
    try:
        raise RuntimeError(f"token {secret} refused")
    except RuntimeError:
        record = logging.getLogger("gateway.test").makeRecord(
            "gateway.test", logging.ERROR, __file__, 1, "with %s", (secret,), exc_info=sys.exc_info())
    assert RedactingFilter([secret]).filter(record)
    line = JsonFormatter().format(record)
    assert secret not in line and "[redacted]" in json.loads(line)["exception"]
