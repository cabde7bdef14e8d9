"""Per-agent API tokens: `gateway agents add/list/remove` as processes, tokens on the admin API, no impersonation."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, datetime

import redis

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from tests.conftest import admin_headers, make_settings, start_client
from gateway import redaction
from tests.support import ROOT, redis_snapshot

ADA = Identity(Channel.SMS, "+15551230001")
BOB_TOKEN = "bob-token-from-the-secret-store-0123"


def agents_cli(redis_url: str | None, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    if redis_url:
        environment["GATEWAY_REDIS_URL"] = redis_url
    return subprocess.run([sys.executable, "-m", "gateway.cli", "agents", *args], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def open_conversation(client, provider_id: str = "SM-1") -> tuple[str, str]:
    result = await client.app[SERVICES].service.ingest(
        InboundMessage(Channel.SMS, ADA, provider_id, "hello", datetime.now(UTC)))
    return result.conversation_id, result.customer_id


async def test_an_agent_added_by_the_cli_acts_under_its_name_until_removed(aiohttp_client, real_backend, redis_url):
    added = agents_cli(redis_url, "add", "alice")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert token.startswith("gwa_") and len(token) > 40 and "shown once" in added.stderr

    # Stored as a digest only: the clear token is nowhere in Redis.
    snapshot = repr(redis_snapshot(redis.Redis.from_url(redis_url)))
    assert token not in snapshot and hashlib.sha256(token.encode()).hexdigest() in snapshot

    assert added.stdout == token + "\n"  # alone on stdout: TOKEN=$(gateway agents add alice)
    listed = agents_cli(redis_url, "list", GATEWAY_AGENT_TOKENS=f"bob:{BOB_TOKEN}")
    assert listed.returncode == 0
    assert [line.split()[:2] for line in listed.stdout.splitlines()] == [["alice", "redis"], ["bob", "env"]]
    again = agents_cli(redis_url, "add", "alice")
    assert again.returncode == 1 and "exists" in again.stderr and again.stdout == ""

    client = await start_client(aiohttp_client, real_backend)
    conversation_id, _ = await open_conversation(client)
    response = await client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "On it"},
                                 headers=bearer(token))
    assert response.status == 201, await response.text()
    assert (await response.json())["message"]["author"] == "alice"

    me = await (await client.get("/api/whoami", headers=bearer(token))).json()
    assert me == {"agent": "alice", "via": "agent-token", "is_agent": True}
    assert (await (await client.get("/api/whoami", headers=admin_headers())).json())["agent"] == "admin"
    listed = await (await client.get("/api/agents", headers=bearer(token))).json()
    assert [a["name"] for a in listed["agents"]] == ["alice"] and token[4:12] not in str(listed)

    removed = agents_cli(redis_url, "remove", "alice")
    assert removed.returncode == 0, removed.stderr
    refused = await client.get("/api/conversations", headers=bearer(token))
    assert refused.status == 401
    assert agents_cli(redis_url, "remove", "alice").returncode == 1
    assert agents_cli(redis_url, "list").stdout == ""


def test_agent_commands_need_redis_and_refuse_reserved_names(redis_url):
    missing = agents_cli(None, "add", "alice")
    assert missing.returncode == 2 and "GATEWAY_REDIS_URL" in missing.stderr
    for name in ("admin", "has space"):  # the rules in full: tests/gateway/test_audit.py
        refused = agents_cli(redis_url, "add", name)
        assert refused.returncode == 1 and "agent name" in refused.stderr, name
    assert redis.Redis.from_url(redis_url).dbsize() == 0


def test_a_bad_agent_tokens_value_is_one_line_naming_the_variable():
    for value, secret in [("alice", None), (f"bob:{BOB_TOKEN},bob:{BOB_TOKEN}x", BOB_TOKEN)]:
        result = subprocess.run([sys.executable, "-m", "gateway.cli", "serve"], cwd=ROOT,
                                env={**os.environ, "GATEWAY_AGENT_TOKENS": value}, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2, value
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "GATEWAY_AGENT_TOKENS" in lines[0], result.stderr
        assert secret is None or secret not in result.stderr  # the token itself is never echoed


async def test_tokens_from_the_environment_authenticate_as_their_agent(aiohttp_client, fake_backend):
    fake_backend.settings = make_settings(agent_tokens=f"bob:{BOB_TOKEN}")
    client = await start_client(aiohttp_client, fake_backend)
    conversation_id, _ = await open_conversation(client)
    response = await client.post(f"/api/conversations/{conversation_id}/assign", json={"agent": "bob"},
                                 headers=bearer(BOB_TOKEN))
    assert response.status == 200
    view = await (await client.get(f"/api/conversations/{conversation_id}", headers=bearer(BOB_TOKEN))).json()
    assert view["messages"][-1]["text"] == "bob assigned the conversation to bob"
    assert (await client.get("/api/conversations", headers=bearer(BOB_TOKEN + "x"))).status == 401
    # Without an admin token the API still serves agents, and still refuses everyone else.
    fake_backend.settings = make_settings(agent_tokens=f"bob:{BOB_TOKEN}", admin_token=None)
    client = await start_client(aiohttp_client, fake_backend)
    assert (await client.get("/api/conversations", headers=bearer(BOB_TOKEN))).status == 200
    refused = await client.get("/api/conversations", headers=admin_headers())
    assert refused.status == 401


async def test_an_agent_token_cannot_act_under_another_name(aiohttp_client, fake_backend):
    fake_backend.settings = make_settings(agent_tokens=f"bob:{BOB_TOKEN}")
    client = await start_client(aiohttp_client, fake_backend)
    conversation_id, customer_id = await open_conversation(client)
    store = client.app[SERVICES].store
    before = await store.messages(conversation_id)
    base = f"/api/conversations/{conversation_id}"
    for path, body in [("/messages", {"text": "hi", "author": "alice"}), ("/resolve", {"author": "alice"}),
                       ("/assign", {"agent": "bob", "author": "admin"}),
                       ("/transfer", {"queue": "support", "author": "x"}), ("/escalate", {"author": "alice"})]:
        response = await client.post(base + path, json=body, headers=bearer(BOB_TOKEN))
        assert response.status == 403, path
        assert "cannot act as" in (await response.json())["error"]
    patch = await client.patch(f"/api/customers/{customer_id}", json={"name": "Ada", "author": "alice"},
                               headers=bearer(BOB_TOKEN))
    assert patch.status == 403
    assert await store.messages(conversation_id) == before
    assert (await store.customer(customer_id)).name != "Ada"
    reload = await client.post("/api/rules/reload", json={"author": "alice"}, headers=bearer(BOB_TOKEN))
    assert reload.status == 403

    # Naming itself is fine; the admin token (automation) may name whom it acts for.
    own = await client.post(base + "/messages", json={"text": "hi", "kind": "note", "author": "bob"},
                            headers=bearer(BOB_TOKEN))
    assert own.status == 201 and (await own.json())["message"]["author"] == "bob"
    automation = await client.post(base + "/messages", json={"text": "hello", "kind": "note", "author": "crm-sync"},
                                   headers=admin_headers())
    assert (await automation.json())["message"]["author"] == "crm-sync"


def test_agent_tokens_are_redacted_from_logs():
    token = "gwa_" + "Ab3-_" * 9
    assert redaction.redact(f"pasted {token} here") == "pasted gwa_[redacted] here"


async def test_only_the_admin_token_erases_a_customer(aiohttp_client, fake_backend):
    fake_backend.settings = make_settings(agent_tokens=f"bob:{BOB_TOKEN}")
    client = await start_client(aiohttp_client, fake_backend)
    conversation_id, _ = await open_conversation(client)
    customer_id = (await client.app[SERVICES].store.conversation(conversation_id)).customer_id
    before = redis_snapshot(fake_backend.sync_client())
    refused = await client.delete(f"/api/customers/{customer_id}", headers=bearer(BOB_TOKEN))
    assert refused.status == 403 and "admin token" in (await refused.json())["error"]
    assert redis_snapshot(fake_backend.sync_client()) == before
    assert (await client.delete(f"/api/customers/{customer_id}", headers=admin_headers())).status == 200
