"""DELETE /api/customers/{id} while the web process remembers the customer's id (conversations/identity_cache.py).

The sender's next message starts a new customer; the erased one is not recreated.
"""

from __future__ import annotations

from gateway.appkeys import SERVICES
from tests.conftest import admin_headers
from tests.sms.conftest import inbound_form, post_signed

PHONE = "+14155550123"


async def sms(gw, n: int, body: str) -> dict:
    response = await post_signed(gw, "/sms/twilio", inbound_form(sid=f"SM{n:032d}", sender=PHONE, body=body))
    assert response.status == 200, await response.text()
    customers = gw.app[SERVICES].store._ingest.identities
    return {"customer": customers.get(f"sms:{PHONE}")}


async def test_a_remembered_customer_erased_over_the_api_is_not_recreated(life_gateway):
    gw = life_gateway
    await sms(gw, 1, "Hello")
    old = (await sms(gw, 2, "Still there?"))["customer"]  # known: the second message used the cache
    assert old
    response = await gw.delete(f"/api/customers/{old}", headers=admin_headers())
    assert response.status == 200, await response.text()

    new = (await sms(gw, 3, "Hello again"))["customer"]
    assert new and new != old
    assert (await gw.get(f"/api/customers/{old}", headers=admin_headers())).status == 404
    shown = await gw.get(f"/api/customers/{new}", headers=admin_headers())
    assert shown.status == 200 and new in await shown.text()
    redis = gw.app[SERVICES].redis
    assert not await redis.exists(f"gw:{{c:{old}}}:customer")
