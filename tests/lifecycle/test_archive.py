"""Retention: resolved conversations past ``GATEWAY_RETENTION__RESOLVED_DAYS`` leave Redis and stay readable."""

from __future__ import annotations

from datetime import timedelta

import boto3

from conversations.clock import utcnow
from gateway.appkeys import SERVICES
from tests.attachments.conftest import s3_bucket, s3_server  # noqa: F401
from tests.conftest import admin_headers
from tests.csat_support import agent_replies, resolve
from tests.lifecycle.conftest import life_client
from tests.email.conftest import conversations, customer_mail, smtp_send
from tests.lifecycle.test_customer_data import build_a_history, keyspace, opens, report, stored_files
from workers import context
from workers.sweeper import Sweeper


def without_links(messages: list[dict]) -> list[dict]:
    """Messages with their signed URLs left out (each view signs afresh)."""
    return [{**m, "attachments": [{k: v for k, v in a.items() if k != "url"} for a in m["attachments"]]}
            for m in messages]


async def test_an_old_resolved_conversation_moves_to_the_archive_and_stays_readable(life_gateway, sink):
    gw = life_gateway
    services = gw.app[SERVICES]
    customer_id, conversation_id = await build_a_history(gw)
    await smtp_send(gw, customer_mail("Still waiting", sender="Bob <bob@customer.example>"))
    [open_one] = [c for c in await conversations(gw) if c != conversation_id]
    before = await (await gw.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).json()
    now = utcnow()
    figures = await report(gw, now)

    assert await Sweeper(services, clock=lambda: now + timedelta(days=29)).archive_resolved() == 0
    assert await Sweeper(services, clock=lambda: now + timedelta(days=31)).archive_resolved() == 1

    names = [key.decode() for key in keyspace(gw)]
    assert not [n for n in names if conversation_id in n]  # its hash, timeline, deliveries and locator are gone
    assert [n for n in names if open_one in n]  # the open conversation is untouched
    archives = [f for f in stored_files(gw) if f.startswith("att_archive_")]
    assert len(archives) == 1

    response = await gw.get(f"/api/conversations/{conversation_id}", headers=admin_headers())
    assert response.status == 200, await response.text()
    after = await response.json()
    assert after["archived"] is True and after["conversation"] == before["conversation"]
    assert without_links(after["messages"]) == without_links(before["messages"])
    [inbound] = [m for m in after["messages"] if m["attachments"]][:1]
    assert await opens(gw, inbound["attachments"][0]["url"]) == 200
    assert await report(gw, now) == figures
    listed = await (await gw.get("/api/conversations", params={"status": "resolved"}, headers=admin_headers())).json()
    assert conversation_id not in [c["id"] for c in listed["conversations"]]
    export = await (await gw.get(f"/api/customers/{customer_id}/export", headers=admin_headers())).json()
    [exported] = export["conversations"]
    assert exported["archived"] is True and len(exported["messages"]) == len(before["messages"])

    # Ada answers our old mail (threaded by In-Reply-To): a new conversation, for the same customer.
    [ours, *_] = sink.to("ada@customer.example")
    await smtp_send(gw, customer_mail("It broke again", in_reply_to=ours.message["Message-ID"]))
    [new_one] = [c for c in await conversations(gw) if c not in (conversation_id, open_one)]
    shown = await (await gw.get(f"/api/conversations/{new_one}", headers=admin_headers())).json()
    assert shown["conversation"]["status"] == "open" and shown["customer"]["id"] == customer_id
    assert any(m["text"] == "It broke again" for m in shown["messages"])

    # Erasing her removes the archived lines too: the batch object held only hers.
    response = await gw.delete(f"/api/customers/{customer_id}", headers=admin_headers())
    assert (await response.json())["archived_conversations"] == 1
    assert not [f for f in stored_files(gw) if f.startswith("att_archive_")]
    assert (await gw.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).status == 404
    assert not [key for key in keyspace(gw) if conversation_id.encode() in key or customer_id.encode() in key]


async def test_the_archive_lives_in_s3_compatible_storage_when_configured(aiohttp_client, sink, fake_twilio,
                                                                          redis_url, s3_bucket):
    gw = await life_client(aiohttp_client, sink, fake_twilio, redis_url, attachments=s3_bucket)
    try:
        await smtp_send(gw, customer_mail("Where is my parcel?"))
        [conversation_id] = await conversations(gw)
        await agent_replies(gw, conversation_id)
        await resolve(gw, conversation_id)
        before = await (await gw.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).json()
        later = utcnow() + timedelta(days=31)
        assert await Sweeper(gw.app[SERVICES], clock=lambda: later).archive_resolved() == 1
        client = boto3.client("s3", endpoint_url=s3_bucket["s3_endpoint_url"], region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
        listed = client.list_objects_v2(Bucket=s3_bucket["s3_bucket"]).get("Contents", [])
        client.close()
        assert [o["Key"] for o in listed if "att_archive_" in o["Key"]]
        after = await (await gw.get(f"/api/conversations/{conversation_id}", headers=admin_headers())).json()
        assert after["archived"] is True and after["messages"] == before["messages"]
    finally:
        context.install(None)
