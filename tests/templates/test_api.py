"""Templates through the admin API: a reply by template reaches Twilio; refusals store nothing; hot reload."""

from __future__ import annotations

import fakeredis
import pytest

from gateway.appkeys import SERVICES
from tests.conftest import Backend, admin_headers, start_client
from tests.sms.conftest import fake_twilio, inbound_form, post_signed, sms_settings  # noqa: F401  (a fixture)
from tests.support import ROOT, redis_snapshot, wait_until
from workers import context

CUSTOMER = "+14155550100"


@pytest.fixture
async def gateway(aiohttp_client, fake_twilio, tmp_path):
    path = tmp_path / "templates.yaml"
    path.write_text((ROOT / "examples" / "templates.yaml").read_text())
    settings = sms_settings(fake_twilio).model_copy(update={"templates_path": path, "rules_reload_seconds": 0.05})
    backend = Backend(settings, fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    client.backend, client.templates_file = backend, path
    yield client
    context.install(None)


async def texting_customer(client) -> str:
    form = inbound_form(sender=CUSTOMER, body="Where is my parcel?", ProfileName="Ada Lovelace")
    assert (await post_signed(client, "/sms/twilio", form)).status == 200
    [conversation_id] = await client.app[SERVICES].store.recent_conversation_ids(limit=10)
    customer = (await client.app[SERVICES].store.conversation(conversation_id)).customer_id
    response = await client.patch(f"/api/customers/{customer}", json={"name": "Ada Lovelace"},
                                  headers=admin_headers())
    assert response.status == 200
    return conversation_id


async def test_a_reply_by_template_sends_the_sms_text_filled_in(gateway, fake_twilio):
    conversation_id = await texting_customer(gateway)
    response = await gateway.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                  json={"template": "order-delayed", "variables": {"order": "A-17", "eta": "Friday"},
                                        "author": "Grace"})
    assert response.status == 201, await response.text()
    await gateway.backend.drain_async()
    assert [form["Body"] for form in fake_twilio.sent] == [
        "Hi Ada, order A-17 is delayed; new delivery date Friday. Reply here with questions."]


async def test_a_note_by_template_uses_the_default_text(gateway):
    conversation_id = await texting_customer(gateway)
    response = await gateway.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                  json={"template": "greeting", "author": "Grace", "kind": "note"})
    assert response.status == 201
    assert (await response.json())["message"]["text"] == "Hi Ada, this is Grace. How can I help?"


@pytest.mark.parametrize(("body", "status", "reason"), [
    ({"template": "nope"}, 404, "no template 'nope'"),
    ({"template": "order-delayed", "variables": {"order": "1"}}, 400, "needs {eta}"),
    ({"template": "order-delayed", "variables": {"order": "1", "eta": "x", "extra": "y"}}, 400,
     "has no variable 'extra'"),
    ({"template": "greeting", "text": "both"}, 400, "either text or template"),
    ({"text": "hi", "variables": {"a": "b"}}, 400, "variables go with a template"),
])
async def test_a_template_that_cannot_be_filled_is_refused_and_nothing_is_stored(gateway, fake_twilio, body,
                                                                                 status, reason):
    conversation_id = await texting_customer(gateway)
    before = redis_snapshot(gateway.backend.sync_client())
    response = await gateway.post(f"/api/conversations/{conversation_id}/messages", headers=admin_headers(),
                                  json=body)
    assert response.status == status
    assert reason in await response.text()
    assert redis_snapshot(gateway.backend.sync_client()) == before
    await gateway.backend.drain_async()
    assert fake_twilio.sent == []


async def test_templates_are_listed_and_hot_reloaded_keeping_the_last_good_set(gateway):
    listed = await (await gateway.get("/api/templates", headers=admin_headers())).json()
    assert [t["name"] for t in listed["templates"]] == ["closing", "greeting", "order-delayed", "outage"]
    assert listed["error"] is None
    gateway.templates_file.write_text("templates:\n  greeting:\n    default: 'Hello {customer.nme}'\n")

    async def refused():
        status = await (await gateway.get("/api/templates", headers=admin_headers())).json()
        return status if status["error"] else None

    status = await wait_until(refused, what="the broken edit to be refused")
    assert status["errors"] == [{"line": 3, "column": 21, "message": status["errors"][0]["message"]}]
    assert len(status["templates"]) == 4  # the last good set stays in force
    gateway.templates_file.write_text("templates:\n  greeting:\n    default: 'Hello {customer.name|you}'\n")

    async def reloaded():
        status = await (await gateway.get("/api/templates", headers=admin_headers())).json()
        return status if status["error"] is None and len(status["templates"]) == 1 else None

    await wait_until(reloaded, what="the fixed file to load")
    conversation_id = await texting_customer(gateway)
    preview = await gateway.post("/api/templates/greeting/preview", headers=admin_headers(),
                                 json={"conversation_id": conversation_id})
    assert (await preview.json())["text"] == "Hello Ada Lovelace"


async def test_the_preview_renders_a_reply_for_its_channel_and_a_note_with_the_default_text(gateway, fake_twilio):
    # What the inbox's template picker shows before the agent inserts or sends.
    conversation_id = await texting_customer(gateway)
    before = redis_snapshot(gateway.backend.sync_client())
    body = {"conversation_id": conversation_id, "variables": {"order": "A-17", "eta": "Friday"}, "author": "Grace"}
    reply = await gateway.post("/api/templates/order-delayed/preview", headers=admin_headers(), json=body)
    assert (await reply.json())["variant"] == "sms"
    note = await gateway.post("/api/templates/order-delayed/preview", headers=admin_headers(),
                              json={**body, "kind": "note"})
    assert await note.json() == {"text": "Your order A-17 is delayed; new delivery date: Friday.", "variant": "default",
                                 "subject": "Your order A-17 is delayed"}
    missing = await gateway.post("/api/templates/order-delayed/preview", headers=admin_headers(),
                                 json={"conversation_id": conversation_id, "variables": {"order": "A-17"}})
    assert missing.status == 400 and "needs {eta}" in await missing.text()
    bad_kind = await gateway.post("/api/templates/order-delayed/preview", headers=admin_headers(),
                                  json={**body, "kind": "shout"})
    assert bad_kind.status == 400
    assert redis_snapshot(gateway.backend.sync_client()) == before  # previews store nothing
    await gateway.backend.drain_async()
    assert fake_twilio.sent == []
