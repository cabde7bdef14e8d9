"""The audit log: every kind of change with who, when and what; the query API; rule reloads; the bound."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from conversations.agents import check_name, parse_static_tokens
from conversations.audit import AUDIT_KEY, AuditEntry, AuditLog, AuditQuery
from conversations.errors import InvalidRequest
from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES
from router import LiveRules
from router.default import DEFAULT_RULES_YAML
from tests.conftest import admin_headers, make_settings, start_client
from tests.support import wait_until

ADA = Identity(Channel.SMS, "+15551230001")
ADA_MAIL = Identity(Channel.EMAIL, "ada@example.com")
BOB_TOKEN = "bob-token-from-the-secret-store-0123"


async def ingest(client, identity: Identity, provider_id: str) -> tuple[str, str]:
    result = await client.app[SERVICES].service.ingest(
        InboundMessage(identity.channel, identity, provider_id, "hello", datetime.now(UTC)))
    return result.conversation_id, result.customer_id


async def audit(client, query: str = "", status: int = 200) -> dict:
    response = await client.get(f"/api/audit{query}", headers=admin_headers())
    assert response.status == status, await response.text()
    return await response.json()


async def test_every_kind_of_change_is_recorded_with_who_when_and_what(aiohttp_client, fake_backend):
    fake_backend.settings = make_settings(agent_tokens=f"bob:{BOB_TOKEN}")
    client = await start_client(aiohttp_client, fake_backend)
    started = datetime.now(UTC) - timedelta(seconds=1)
    conversation_id, customer_id = await ingest(client, ADA, "SM-1")
    _, other_customer = await ingest(client, ADA_MAIL, "mail-1")
    base = f"/api/conversations/{conversation_id}"
    bob = {"Authorization": f"Bearer {BOB_TOKEN}"}

    async def call(method: str, path: str, body: dict, headers: dict | None = None) -> dict:
        response = await client.request(method, path, json=body, headers=headers or admin_headers())
        assert response.status in (200, 201), await response.text()
        return await response.json()

    reply_id = (await call("POST", base + "/messages", {"text": "Looking into it"}, bob))["message"]["id"]
    await call("POST", base + "/messages", {"text": "VIP", "kind": "note", "author": "crm-sync"})
    await call("POST", base + "/assign", {"agent": "bob"}, bob)
    await call("POST", base + "/transfer", {"queue": "support", "reason": "billing"}, bob)
    await call("POST", base + "/escalate", {"reason": "refund"}, bob)
    await call("POST", base + "/resolve", {}, bob)
    await call("POST", base + "/reopen", {}, bob)
    await call("POST", base + "/reroute", {}, bob)
    await call("PATCH", f"/api/customers/{customer_id}", {"name": "Ada L.", "attributes": {"plan": "pro"}}, bob)
    await call("POST", f"/api/customers/{customer_id}/identities", {"channel": "sms", "address": "+15551230009"}, bob)
    await call("POST", f"/api/customers/{customer_id}/identities", {"channel": "email", "address": "ada@example.com"},
               bob)
    await call("POST", "/api/rules/reload", {}, bob)

    entries = list(reversed((await audit(client))["entries"]))  # oldest first, to read along
    assert [e["action"] for e in entries] == [
        "reply", "note", "assign", "transfer", "escalate", "resolve", "reopen", "reroute", "customer_edit",
        "link_identity",
        "merge", "rules_reload"]
    assert {e["agent"] for e in entries} == {"bob", "crm-sync"}
    assert [e["via"] for e in entries[:2]] == ["agent-token", "admin-token"]
    for entry in entries:
        assert started <= datetime.fromisoformat(entry["at"]) <= datetime.now(UTC)
    by_action = {e["action"]: e for e in entries}
    reply = by_action["reply"]
    assert reply["conversation"] == conversation_id and reply["customer"] == customer_id
    assert reply["detail"]["channel"] == "sms" and reply["detail"]["message"] == reply_id
    assert "Looking into it" not in str(entries)  # texts stay in the timeline, not in the audit log
    assert by_action["assign"]["detail"] == {"agent": "bob"}
    assert by_action["transfer"]["detail"] == {"from": "service", "to": "support", "from_tier": "1",
                                               "reason": "billing"}
    assert by_action["escalate"]["detail"]["to_tier"] == "2"
    assert by_action["reroute"]["detail"]["queue"] == "service" and by_action["reroute"]["detail"]["rule"] == "default"
    assert by_action["customer_edit"]["detail"] == {"fields": "name,attributes.plan"}
    assert by_action["customer_edit"]["conversation"] is None
    assert "pro" not in str(by_action["customer_edit"])  # attribute values stay on the customer
    assert by_action["link_identity"]["detail"] == {"identity": "sms:+15551230009"}
    assert by_action["merge"]["detail"]["merged"] == other_customer
    assert by_action["rules_reload"]["detail"]["outcome"] == "unchanged"

    # The conversation's own timeline says the same, where the change has a conversation.
    view = await (await client.get(base, headers=admin_headers())).json()
    texts = [m["text"] for m in view["messages"] if m["direction"] == "event"]
    assert "bob edited the customer: name, attributes.plan" in texts
    assert "bob linked sms:+15551230009 to this customer" in texts
    assert "bob resolved the conversation" in texts
    assert [m["author"] for m in view["messages"] if m["direction"] in ("outbound", "note")] == ["bob", "crm-sync"]

    # Filters: by agent, conversation, customer and time.
    assert {e["action"] for e in (await audit(client, "?agent=crm-sync"))["entries"]} == {"note"}
    assert len((await audit(client, f"?conversation={conversation_id}"))["entries"]) == 10  # + link, merge
    assert {e["action"] for e in (await audit(client, f"?customer={other_customer}"))["entries"]} == set()
    assert len((await audit(client, f"?customer={customer_id}"))["entries"]) == 11
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    past = (started - timedelta(hours=1)).isoformat()
    assert (await audit(client, f"?from={future}"))["entries"] == []
    assert (await audit(client, "?to=0001-01-01T00:00:00Z"))["entries"] == []
    assert len((await audit(client, "?from=0001-01-01T00:00:00Z"))["entries"]) == 12
    assert (await audit(client, f"?to={past.replace('+', '%2B')}"))["entries"] == []
    window = await audit(client, f"?from={started.isoformat().replace('+', '%2B')}&to={future}")
    assert len(window["entries"]) == 12
    unencoded = await audit(client, f"?from={started.isoformat()}")  # "+00:00" arrives as " 00:00"
    assert len(unencoded["entries"]) == 12


async def test_pages_follow_the_cursor_newest_first(gateway):
    conversation_id, _ = await ingest(gateway, ADA, "SM-1")
    for number in range(7):
        response = await gateway.post(f"/api/conversations/{conversation_id}/messages",
                                      json={"text": f"note {number}", "kind": "note", "author": f"agent-{number}"},
                                      headers=admin_headers())
        assert response.status == 201
    everything = (await audit(gateway))["entries"]
    assert [e["agent"] for e in everything] == [f"agent-{n}" for n in reversed(range(7))]
    walked, cursor = [], ""
    while True:
        page = await audit(gateway, f"?limit=3{'&cursor=' + cursor if cursor else ''}")
        walked += page["entries"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == everything


@pytest.mark.parametrize(("query", "reason"), [
    ("?from=yesterday", "ISO 8601"),
    ("?from=2026-12-03T10:00:00", "timezone"),
    ("?from=2026-12-03T10:00:00Z&to=2026-12-02T10:00:00Z", "after"),
    ("?agnet=bob", "unknown parameter 'agnet'"),
    ("?cursor=drop-table", "cursor"),
    ("?cursor=99999999999999999999-0", "cursor"),
    ("?limit=0", "limit"),
    ("?limit=many", "limit"),
])
async def test_bad_audit_queries_say_why(gateway, query, reason):
    assert reason in (await audit(gateway, query, status=400))["error"]


async def test_the_audit_api_needs_a_token(gateway):
    assert (await gateway.get("/api/audit")).status == 401


async def test_rule_file_reloads_are_recorded_once_and_refusals_too(aiohttp_client, fake_backend, tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(DEFAULT_RULES_YAML)
    rules = LiveRules(path)
    first = rules.current.version
    client = await start_client(aiohttp_client, fake_backend, rules=rules)

    path.write_text(DEFAULT_RULES_YAML + "\n# tuned\n")
    await asyncio.to_thread(rules.reload_if_changed)  # what the poll does; SIGHUP calls reload()

    async def reloads() -> list[dict]:
        return [e for e in (await audit(client, "?agent=gateway"))["entries"] if e["action"] == "rules_reload"]

    loaded = (await wait_until(reloads, what="the reload in the audit log"))[0]
    assert loaded["detail"]["outcome"] == "loaded" and loaded["detail"]["trigger"] == "file-watch"
    assert loaded["detail"]["previous_version"] == first
    assert loaded["detail"]["version"] == rules.current.version != first

    path.write_text("queues: [\n")
    await asyncio.to_thread(rules.reload, "sighup")
    refused = await wait_until(lambda: _newest_outcome(reloads, "refused"), what="the refusal")
    assert refused["detail"]["trigger"] == "sighup" and "routing.yaml" in refused["detail"]["error"]

    response = await client.post("/api/rules/reload", json={"author": "ops-bot"}, headers=admin_headers())
    assert response.status == 422 and (await response.json())["outcome"] == "refused"
    path.write_text(DEFAULT_RULES_YAML + "\n# fixed\n")
    response = await client.post("/api/rules/reload", json={"author": "ops-bot"}, headers=admin_headers())
    assert response.status == 200 and (await response.json())["outcome"] == "loaded"
    by_api = (await audit(client, "?agent=ops-bot"))["entries"]
    assert [(e["detail"]["outcome"], e["detail"]["trigger"]) for e in by_api] == [("loaded", "api"),
                                                                                  ("refused", "api")]
    assert (await reloads())[0]["detail"]["outcome"] == "refused"  # the poll did not record the API's reload again


async def _newest_outcome(reloads, outcome: str) -> dict | None:
    found = await reloads()
    return found[0] if found and found[0]["detail"]["outcome"] == outcome else None


async def test_a_reload_seen_by_several_processes_is_recorded_once(real_backend):
    clients = [real_backend.async_client() for _ in range(3)]
    logs = [AuditLog(client) for client in clients]
    recorded = [await log.record_rules(agent="gateway", outcome="loaded", path="routing.yaml", version="v2",
                                       previous="v1", trigger="file-watch") for log in logs]
    assert recorded == [True, False, False]
    assert await logs[0].record_rules(agent="gateway", outcome="loaded", path="routing.yaml", version="v3",
                                      previous="v2", trigger="file-watch")
    assert await clients[0].xlen(AUDIT_KEY) == 2
    for client in clients:
        await client.aclose()


async def test_the_audit_stream_is_bounded(real_backend):
    client = real_backend.async_client()
    log = AuditLog(client, max_entries=1000)
    pipe = client.pipeline(transaction=False)
    for number in range(5000):
        pipe.xadd(AUDIT_KEY, AuditEntry(agent="a", action="note", detail={"n": str(number)}).fields(),
                  maxlen=1000, approximate=True)
    await pipe.execute()
    await log.record(AuditEntry(agent="last", action="note"))
    length = await client.xlen(AUDIT_KEY)
    assert 1000 <= length < 1200  # trimmed by whole stream nodes (100 entries each by default)
    page = await log.query(AuditQuery(limit=1))
    assert page.entries[0]["agent"] == "last"
    await client.aclose()


def test_agent_names_and_environment_tokens():
    assert check_name("grace.hopper@example.com") == "grace.hopper@example.com"
    for bad in ("", "-x", "a b", "x" * 65, "Admin", "gateway", "auto-reply"):
        with pytest.raises(InvalidRequest):
            check_name(bad)
    parsed = parse_static_tokens(f" bob:{BOB_TOKEN} , ann:{BOB_TOKEN}-2 ,")
    assert sorted(parsed.values()) == ["ann", "bob"] and BOB_TOKEN not in str(parsed)
    for bad, reason in [("bob", "not name:token"), (f"bob:{BOB_TOKEN},bob:{BOB_TOKEN}x", "twice"),
                        ("bob:short", "at least"), (f"bob:{BOB_TOKEN},ann:{BOB_TOKEN}", "same token"),
                        (f"admin:{BOB_TOKEN}", "reserved")]:
        with pytest.raises(ValueError, match=reason):
            parse_static_tokens(bad)


async def test_what_no_one_did_by_hand_is_named_too(gateway):
    """A customer's proof links an identity as "verification"; a customer writing again reopens unrecorded."""
    service = gateway.app[SERVICES].service
    conversation_id, customer_id = await ingest(gateway, ADA, "SM-1")
    await service.ingest(InboundMessage(Channel.SMS, ADA, "SM-2", "me again", datetime.now(UTC), linked=(ADA_MAIL,)))
    await service.resolve(conversation_id, "grace")
    await service.ingest(InboundMessage(Channel.SMS, ADA, "SM-3", "still broken", datetime.now(UTC)))
    entries = (await audit(gateway))["entries"]
    assert [(e["action"], e["agent"], e["via"]) for e in entries] == [
        ("resolve", "grace", "gateway"), ("link_identity", "verification", "gateway")]
    assert entries[1]["detail"] == {"identity": "email:ada@example.com"} and entries[1]["customer"] == customer_id
    assert (await gateway.app[SERVICES].store.conversation(conversation_id)).status.value == "open"


def test_the_audit_bound_has_a_floor():
    with pytest.raises(ValidationError, match="max_entries"):
        make_settings(audit={"max_entries": 10})
