"""``GET /api/customers/{id}/export`` and ``DELETE /api/customers/{id}`` on a real Redis, as an admin meets them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import redis

from channels.slack.state import SlackState
from conversations import codec
from conversations.clock import utcnow
from gateway.appkeys import SERVICES, SETTINGS
from tests.attachments import files
from tests.attachments.test_inbound import mail_with_files
from tests.conftest import admin_headers
from tests.csat_support import agent_replies, resolve
from tests.email.conftest import conversations, customer_mail, smtp_send
from tests.sms.conftest import inbound_form, post_signed
from tests.support import redis_snapshot

PHONE = "+14155550100"


async def build_a_history(gw) -> tuple[str, str]:
    """Ada writes with files, an agent edits her, links her phone, replies and resolves; she rates 5; STOP by SMS."""
    await smtp_send(gw, mail_with_files())
    [conversation_id] = await conversations(gw)
    customer_id = (await gw.app[SERVICES].store.conversation(conversation_id)).customer_id
    response = await gw.patch(f"/api/customers/{customer_id}", headers=admin_headers(),
                              json={"attributes": {"plan": "gold"}, "author": "Grace"})
    assert response.status == 200, await response.text()
    response = await gw.post(f"/api/customers/{customer_id}/identities", headers=admin_headers(),
                             json={"channel": "sms", "address": PHONE, "author": "Grace"})
    assert response.status == 200, await response.text()
    await agent_replies(gw, conversation_id)
    await resolve(gw, conversation_id)
    await gw.backend.drain_async()  # the reply and the survey go out by SMTP
    await smtp_send(gw, customer_mail("5 Lovely service, thanks"))
    response = await post_signed(gw, "/sms/twilio", inbound_form(sid="SM" + "7" * 32, sender=PHONE, body="STOP"))
    assert response.status == 200, await response.text()
    return customer_id, conversation_id


async def opens(client, url: str) -> int:
    parts = urlsplit(url)
    return (await client.get(f"{parts.path}?{parts.query}")).status


async def report(gw, now) -> dict:
    span = {"from": codec.iso(now - timedelta(days=1)), "to": codec.iso(now + timedelta(days=1))}
    response = await gw.get("/api/reports/summary", params=span, headers=admin_headers())
    assert response.status == 200, await response.text()
    return await response.json()


async def test_the_export_holds_everything_about_the_customer(life_gateway):
    gw = life_gateway
    customer_id, conversation_id = await build_a_history(gw)
    response = await gw.get(f"/api/customers/{customer_id}/export", headers=admin_headers())
    assert response.status == 200, await response.text()
    assert "attachment" in response.headers["Content-Disposition"]
    export = await response.json()
    assert export["customer"]["id"] == customer_id and export["customer"]["name"] == "Ada Lovelace"
    assert export["customer"]["attributes"] == {"plan": "gold"}
    assert {(i["channel"], i["address"]) for i in export["customer"]["identities"]} == {
        ("email", "ada@customer.example"), ("sms", PHONE)}
    assert [o["address"] for o in export["opt_outs"]] == [PHONE]
    [conversation] = export["conversations"]
    assert conversation["conversation"]["id"] == conversation_id and conversation["archived"] is False
    texts = [m["text"] for m in conversation["messages"]]
    assert any("Photo of the damage" in t for t in texts) and "It ships today." in texts
    [inbound] = [m for m in conversation["messages"] if m["attachments"]][:1]
    png, pdf, exe = inbound["attachments"]
    assert await opens(gw, png["url"]) == 200 and await opens(gw, pdf["url"]) == 200 and exe["url"] is None
    assert export["csat"] == [{"conversation_id": conversation_id, **{
        k: v for k, v in conversation["conversation"]["extra"].items() if k.startswith("csat_")}}]
    assert export["csat"][0]["csat_rating"] == "5"
    actions = {e["action"] for e in export["audit"]}
    assert {"customer_edit", "link_identity", "reply", "resolve"} <= actions


async def test_an_unknown_customer_is_404_for_export_and_delete_and_changes_nothing(life_gateway):
    gw = life_gateway
    await build_a_history(gw)
    sync = redis.Redis.from_url(gw.app[SETTINGS].redis_url)
    before = redis_snapshot(sync)
    for method in ("GET", "DELETE"):
        path = "/api/customers/cus_nobody/export" if method == "GET" else "/api/customers/cus_nobody"
        response = await gw.request(method, path, headers=admin_headers())
        assert response.status == 404, await response.text()
    assert redis_snapshot(sync) == before
    assert (await gw.delete("/api/customers/cus_nobody")).status == 401  # no token, no erasure
    sync.close()


def keyspace(gw) -> dict:
    sync = redis.Redis.from_url(gw.app[SETTINGS].redis_url)
    try:
        return redis_snapshot(sync)
    finally:
        sync.close()


def stored_files(gw) -> set[str]:
    root = Path(gw.app[SETTINGS].attachments.dir)
    return {p.name for p in root.rglob("att_*") if not p.name.endswith(".json")}


async def test_delete_erases_every_key_and_file_and_keeps_the_report_figures(life_gateway):
    gw = life_gateway
    customer_id, conversation_id = await build_a_history(gw)
    assert len(stored_files(gw)) == 2
    now = utcnow()
    figures = await report(gw, now)
    # The conversation's thread in the Slack console, as the console's sync records it.
    await SlackState(gw.app[SERVICES].redis).new_thread(conversation_id, target="#support", channel="C0SUPPORT",
                                                        ts="1700000000.000100", parent_hash="digest")
    assert figures["conversations"] == 1 and figures["csat"]["responses"] == 1 and figures["resolved"] == 1

    personal = [customer_id, conversation_id, "1700000000.000100", "ada@customer.example", "4155550100", "Lovelace",
                "Photo of the damage", "Lovely service"]
    before = " ".join(repr(key) + repr(value) for key, (_, value) in keyspace(gw).items()).casefold()
    assert all(p.casefold() in before for p in personal)  # the scan below would see each of them

    response = await gw.delete(f"/api/customers/{customer_id}", headers=admin_headers())
    assert response.status == 200, await response.text()
    counts = await response.json()
    assert counts["erased"] == customer_id and counts["conversations"] == 1 and counts["files"] == 2
    assert counts["report_rows_kept"] == 1

    assert stored_files(gw) == set()
    assert (await gw.get(f"/api/customers/{customer_id}", headers=admin_headers())).status == 404
    assert (await gw.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).status == 404
    everything = keyspace(gw)
    for key, (_, value) in everything.items():
        shown = (repr(key) + repr(value)).casefold()
        found = [p for p in personal if p.casefold() in shown]
        if key == b"gw:audit":  # who did what stays, by id; the erasure itself is recorded there
            assert not [p for p in found if p not in (customer_id, conversation_id)], found
            continue
        assert not found, (key, found)
    assert await report(gw, now) == figures  # the anonymous rows keep every figure

    audit = await (await gw.get("/api/audit", params={"customer": customer_id}, headers=admin_headers())).json()
    erasure = audit["entries"][0]
    assert erasure["action"] == "customer_erased" and erasure["agent"] == "admin"
    assert erasure["detail"]["files"] == "2"

    # She writes again: a new customer and conversation, nothing of the old one.
    await smtp_send(gw, customer_mail("Hello again"))
    [new_conversation] = await conversations(gw)
    assert new_conversation != conversation_id
    shown = await (await gw.get(f"/api/conversations/{new_conversation}", headers=admin_headers())).json()
    assert shown["customer"]["id"] != customer_id and shown["history"] == []


async def test_erasing_a_merged_customer_erases_the_person_it_was_merged_into(life_gateway):
    gw = life_gateway
    await smtp_send(gw, customer_mail("First, from my work address", sender="Ada <ada@work.example>"))
    await smtp_send(gw, customer_mail("Second, from home", sender="Ada Lovelace <ada@customer.example>"))
    store = gw.app[SERVICES].store
    owners = {(await store.conversation(c)).customer_id for c in await conversations(gw)}
    assert len(owners) == 2
    work = await store.customer_for_key("email:ada@work.example")
    home = await store.customer_for_key("email:ada@customer.example")
    response = await gw.post(f"/api/customers/{home}/identities", headers=admin_headers(),
                             json={"channel": "email", "address": "ada@work.example"})
    assert response.status == 200, await response.text()
    merged = home if (await store.customer(home)).merged_into else work
    survivor = work if merged == home else home
    export = await (await gw.get(f"/api/customers/{merged}/export", headers=admin_headers())).json()
    assert export["customer"]["id"] == survivor and len(export["conversations"]) == 2

    response = await gw.delete(f"/api/customers/{merged}", headers=admin_headers())
    assert response.status == 200, await response.text()
    assert (await response.json())["conversations"] == 2
    left = " ".join(repr(k) + repr(v) for k, (_, v) in keyspace(gw).items() if k != b"gw:audit").casefold()
    for personal in (merged, survivor, "ada@work.example", "ada@customer.example", "lovelace", "from home"):
        assert personal.casefold() not in left, personal
