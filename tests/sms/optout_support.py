"""Helpers of the opt-out tests: a customer texting through the signed webhook, an agent answering."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from gateway.appkeys import SERVICES
from tests.conftest import admin_headers
from tests.sms.conftest import inbound_form, post_signed

CUSTOMER = "+14155550100"
_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


async def texts(client, body: str, *, sender: str = CUSTOMER, sid: str | None = None, **extra: str) -> str:
    """The customer texts ``body``; returns the TwiML the gateway answered."""
    response = await post_signed(client, "/sms/twilio", inbound_form(sid=sid or new_sid(), sender=sender, body=body,
                                                                     **extra))
    assert response.status == 200, await response.text()
    assert response.content_type == "text/xml"
    return await response.text()


def twiml_messages(twiml: str) -> list[str]:
    """The texts a TwiML answer makes Twilio send."""
    root = ET.fromstring(twiml)
    assert root.tag == "Response"
    return [element.text or "" for element in root.iter("Message")]


async def conversation_ids(client) -> list[str]:
    return await client.app[SERVICES].store.recent_conversation_ids(limit=50)


async def customer_view(client, number: str = CUSTOMER) -> dict:
    customer_id = await client.app[SERVICES].store.customer_for_key(f"sms:{number}")
    assert customer_id, f"no customer for {number}"
    response = await client.get(f"/api/customers/{customer_id}", headers=admin_headers())
    assert response.status == 200
    return (await response.json())["customer"]


async def opted_out(client, number: str = CUSTOMER) -> bool:
    return any(o["address"] == number for o in (await customer_view(client, number))["opt_outs"])


async def agent_replies(client, conversation_id: str, text: str) -> dict:
    response = await client.post(f"/api/conversations/{conversation_id}/messages",
                                 json={"text": text, "author": "Grace"}, headers=admin_headers())
    assert response.status == 201, await response.text()
    return (await response.json())["message"]


async def conversation(client, conversation_id: str) -> dict:
    response = await client.get(f"/api/conversations/{conversation_id}", headers=admin_headers())
    assert response.status == 200
    return await response.json()


def events(view: dict, kind: str | None = None) -> list[dict]:
    return [m for m in view["messages"] if m["direction"] == "event" and (kind is None or m["kind"] == kind)]


def outbound(view: dict) -> list[dict]:
    return [m for m in view["messages"] if m["direction"] == "outbound"]
