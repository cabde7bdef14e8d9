"""The admin API: auth, views, agent actions and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from gateway.appkeys import SERVICES, SETTINGS
from tests.conftest import admin_headers

ADA = Identity(Channel.SMS, "+15551230001")


async def open_conversation(gateway, text: str = "hello", provider_id: str = "SM-1", identity: Identity = ADA):
    result = await gateway.app[SERVICES].service.ingest(
        InboundMessage(Channel.SMS, identity, provider_id, text, datetime.now(UTC)))
    return result.conversation_id, result.customer_id


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dGVzdA=="}])
async def test_api_refuses_requests_without_the_token(gateway, headers):
    response = await gateway.get("/api/conversations", headers=headers)
    assert response.status == 401
    assert "token" in (await response.json())["error"]


async def test_api_is_disabled_without_a_configured_token(aiohttp_client, fake_backend):
    from tests.conftest import start_client

    fake_backend.settings = fake_backend.settings.model_copy(update={"admin_token": None})
    client = await start_client(aiohttp_client, fake_backend)
    response = await client.get("/api/conversations", headers=admin_headers())
    assert response.status == 401 and "GATEWAY_ADMIN_TOKEN" in (await response.json())["error"]


async def test_list_filters_by_queue_status_and_channel(gateway):
    first, _ = await open_conversation(gateway)
    second, _ = await open_conversation(gateway, provider_id="SM-2", identity=Identity(Channel.SMS, "+15551230002"))
    await gateway.post(f"/api/conversations/{second}/transfer", json={"queue": "support"}, headers=admin_headers())

    async def ids(query: str) -> list[str]:
        response = await gateway.get(f"/api/conversations{query}", headers=admin_headers())
        assert response.status == 200
        return [c["id"] for c in (await response.json())["conversations"]]

    assert set(await ids("")) == {first, second}
    assert await ids("?queue=support") == [second]
    assert await ids("?queue=service&status=open") == [first]
    assert await ids("?channel=email") == []
    bad = await gateway.get("/api/conversations?status=closed", headers=admin_headers())
    assert bad.status == 400 and "status must be one of" in (await bad.json())["error"]


async def test_agent_actions_change_the_conversation(gateway):
    conversation_id, _ = await open_conversation(gateway)
    base = f"/api/conversations/{conversation_id}"

    async def post(path: str, body: dict | None = None, status: int = 200) -> dict:
        response = await gateway.post(base + path, json=body or {}, headers=admin_headers())
        assert response.status == status, await response.text()
        return await response.json()

    assert (await post("/assign", {"agent": "grace"}))["conversation"]["assignee"] == "grace"
    assert (await post("/escalate", {"reason": "needs tier 2"}))["conversation"]["tier"] == 2
    assert (await post("/transfer", {"queue": "support"}))["conversation"]["queue"] == "support"
    note = await post("/messages", {"text": "customer is on the beta", "kind": "note", "author": "grace"}, 201)
    assert note["message"]["direction"] == "note"
    reply = await post("/messages", {"text": "Fixed it", "author": "grace"}, 201)
    assert reply["message"]["direction"] == "outbound" and reply["message"]["channel"] == "sms"
    assert reply["message"]["delivery"] == "queued"
    assert (await post("/resolve"))["conversation"]["status"] == "resolved"
    assert (await post("/resolve", status=409))["error"] == "the conversation is already resolved"
    assert (await post("/reopen"))["conversation"]["status"] == "open"
    rerouted = await post("/reroute")
    assert rerouted["conversation"]["queue"] == "service" and rerouted["routing"]["rule"] == "default"

    view = await (await gateway.get(base, headers=admin_headers())).json()
    kinds = [m["kind"] or m["direction"] for m in view["messages"]]
    assert kinds == ["inbound", "routed", "assigned", "escalated", "transferred", "note", "outbound",
                     "resolved", "reopened", "routed"]
    assert view["customer"]["identities"] == [{"channel": "sms", "address": "+15551230001"}]


@pytest.mark.parametrize(
    ("path", "body", "status", "reason"),
    [
        ("/messages", {"text": ""}, 400, "text"),
        ("/messages", {"text": "hi", "kind": "shout"}, 400, "kind"),
        ("/messages", {"text": "hi", "extra": 1}, 400, "extra"),
        ("/messages", {"text": "hi", "channel": "email"}, 400, "has no email address"),
        ("/transfer", {"queue": "sales"}, 400, "unknown queue"),
        ("/transfer", {}, 400, "queue"),
    ],
)
async def test_bad_bodies_get_a_reason_and_change_nothing(gateway, path, body, status, reason):
    conversation_id, _ = await open_conversation(gateway)
    before = await gateway.app[SERVICES].store.messages(conversation_id)
    response = await gateway.post(f"/api/conversations/{conversation_id}{path}", json=body, headers=admin_headers())
    assert response.status == status
    assert reason in (await response.json())["error"]
    assert await gateway.app[SERVICES].store.messages(conversation_id) == before


async def test_malformed_json_is_a_400(gateway):
    conversation_id, _ = await open_conversation(gateway)
    response = await gateway.post(f"/api/conversations/{conversation_id}/messages", data=b"{not json",
                                  headers={**admin_headers(), "Content-Type": "application/json"})
    assert response.status == 400 and (await response.json())["error"] == "the body must be JSON"


async def test_unknown_ids_are_404(gateway):
    for path in ("/api/conversations/cnv_nope", "/api/customers/cus_nope", "/api/nothing-here"):
        response = await gateway.get(path, headers=admin_headers())
        assert response.status == 404, path
    response = await gateway.post("/api/conversations/cnv_nope/resolve", json={}, headers=admin_headers())
    assert response.status == 404


async def test_oversized_body_is_refused(gateway):
    conversation_id, _ = await open_conversation(gateway)
    store = gateway.app[SERVICES].store
    before = await store.messages(conversation_id)
    big = {"text": "x" * (gateway.app[SETTINGS].max_body_bytes + 1)}
    response = await gateway.post(f"/api/conversations/{conversation_id}/messages", json=big, headers=admin_headers())
    assert response.status == 413
    assert await store.messages(conversation_id) == before  # nothing stored
    view = await (await gateway.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).json()
    assert [m["kind"] or m["direction"] for m in view["messages"]] == ["inbound", "routed"]


async def test_link_identity_normalizes_and_merges(gateway):
    ada_conversation, ada = await open_conversation(gateway, "my parcel never came")
    # Someone else writes from the address first: a second customer owns it, with a live conversation.
    email = Identity(Channel.EMAIL, "ada@example.com")
    second = await gateway.app[SERVICES].service.ingest(
        InboundMessage(Channel.EMAIL, email, "<m1@example.com>", "tracking number please", datetime.now(UTC),
                       subject="Where is my parcel?"))
    other_conversation, other = second.conversation_id, second.customer_id
    assert other != ada

    response = await gateway.post(f"/api/customers/{ada}/identities",
                                  json={"channel": "email", "address": " Ada@Example.COM "}, headers=admin_headers())
    assert response.status == 200, await response.text()
    merged = (await response.json())["customer"]
    # The older customer survives, with both identities.
    assert merged["id"] == ada and merged["merged_into"] is None
    assert {(i["channel"], i["address"]) for i in merged["identities"]} == {("sms", "+15551230001"),
                                                                              ("email", "ada@example.com")}
    # The other customer's id now resolves to the survivor.
    resolved = await (await gateway.get(f"/api/customers/{other}", headers=admin_headers())).json()
    assert resolved["customer"]["id"] == ada
    assert [c["id"] for c in resolved["conversations"]] == [ada_conversation, other_conversation]
    assert await gateway.app[SERVICES].store.customer_for(email) == ada

    # Both were live: the other conversation's messages are folded into Ada's live one, in time
    # order, and the moved copy is resolved with a pointer to it.
    view = await (await gateway.get(f"/api/conversations/{ada_conversation}", headers=admin_headers())).json()
    assert [m["text"] for m in view["messages"] if m["direction"] == "inbound"] == ["my parcel never came",
                                                                                    "tracking number please"]
    assert any(m["kind"] == "merged" and other_conversation in m["text"] for m in view["messages"])
    assert [c["id"] for c in view["history"]] == [other_conversation]
    moved = (await (await gateway.get(f"/api/conversations/{other_conversation}",
                                      headers=admin_headers())).json())["conversation"]
    assert moved["customer_id"] == ada and moved["status"] == "resolved"
    assert moved["extra"]["merged_into_conversation"] == ada_conversation
    listed = await (await gateway.get("/api/conversations", headers=admin_headers())).json()
    assert [c["id"] for c in listed["conversations"]] == [ada_conversation]

    bad = await gateway.post(f"/api/customers/{ada}/identities",
                             json={"channel": "sms", "address": "not a number"}, headers=admin_headers())
    assert bad.status == 400 and "phone number" in (await bad.json())["error"]


async def test_customer_attributes_can_be_set(gateway):
    _, customer_id = await open_conversation(gateway)
    response = await gateway.patch(f"/api/customers/{customer_id}", json={"name": "Ada", "attributes": {"plan": "vip"}},
                                   headers=admin_headers())
    assert (await response.json())["customer"]["attributes"] == {"plan": "vip"}


async def test_health_and_readiness(gateway):
    assert (await gateway.get("/healthz")).status == 200
    ready = await gateway.get("/readyz")
    assert ready.status == 200 and (await ready.json())["redis"] == "ok"


async def test_redis_going_down_makes_readiness_and_writes_answer_503(aiohttp_client, redis_server):
    from tests.conftest import Backend, make_settings, start_client
    from tests.support import RedisServer

    own = RedisServer()  # a server of this test's own, to stop under the running app
    try:
        backend = Backend(make_settings(redis_url=own.url))
        client = await start_client(aiohttp_client, backend)
        conversation_id, _ = await open_conversation(client)
    finally:
        own.stop()
    ready = await client.get("/readyz")
    assert ready.status == 503 and (await ready.json())["status"] == "unavailable"
    response = await client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "hi"},
                                 headers=admin_headers())
    assert response.status == 503 and "retry" in (await response.json())["error"]
