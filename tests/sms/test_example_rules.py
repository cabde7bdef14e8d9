"""examples/routing.yaml under a driven clock: its after-hours auto-reply goes out only when Berlin's office is closed.

The conversation service's clock is set by the test, so the outcome is the same
whatever the time of day the suite runs at.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import fakeredis
import yaml

from gateway.appkeys import SERVICES
from tests.conftest import Backend, start_client
from tests.sms.conftest import inbound_form, post_signed, sms_settings
from tests.support import ROOT
from tests.workers.support import Clock

EXAMPLE_RULES = ROOT / "examples" / "routing.yaml"
BERLIN = ZoneInfo("Europe/Berlin")
SUNDAY_3AM = datetime(2026, 3, 1, 3, 0, tzinfo=BERLIN)
WEDNESDAY_10AM = datetime(2026, 3, 4, 10, 0, tzinfo=BERLIN)


def after_hours_reply() -> str:
    rules = yaml.safe_load(EXAMPLE_RULES.read_text())
    [rule] = [r for r in rules["rules"] if r["name"] == "after-hours"]
    return rule["then"]["auto_reply"]


async def test_example_rules_auto_reply_at_3am_on_sunday_and_not_at_10am_on_wednesday(aiohttp_client, fake_twilio):
    assert SUNDAY_3AM.strftime("%A") == "Sunday" and WEDNESDAY_10AM.strftime("%A") == "Wednesday"
    backend = Backend(sms_settings(fake_twilio, rules_path=EXAMPLE_RULES), fakeredis.FakeServer())
    backend.configure_jobs()
    client = await start_client(aiohttp_client, backend)
    services = client.app[SERVICES]
    assert services.rules.status()["path"] == str(EXAMPLE_RULES)
    clock = Clock(SUNDAY_3AM)
    services.service.clock = clock

    async def customer_texts(sender: str, sid: str) -> str:
        response = await post_signed(client, "/sms/twilio", inbound_form(sid=sid, sender=sender,
                                                                         body="Hi, where is my order?"))
        assert response.status == 200
        await backend.drain_async()  # the outbound job delivers whatever the routing answered
        return await services.store.customer_for_key(f"sms:{sender}")

    # 03:00 on a Sunday in Berlin: the office is closed; the customer gets the auto-reply by SMS.
    night = await customer_texts("+14155550101", "SM" + "1" * 32)
    [night_id] = await services.store.customer_conversation_ids(night)
    conversation = await services.store.conversation(night_id)
    assert conversation.queue == "service" and "after-hours" in conversation.tags
    assert [(form["To"], form["Body"]) for form in fake_twilio.sent] == [("+14155550101", after_hours_reply())]
    [reply] = [m for m in await services.store.messages(night_id) if m.direction == "outbound"]
    assert reply.author == "auto-reply" and reply.meta["automatic"] == "1" and reply.delivery == "sent"

    # 10:00 on a Wednesday: open; routed the same way, no auto-reply.
    clock.now = WEDNESDAY_10AM
    day = await customer_texts("+14155550102", "SM" + "2" * 32)
    [day_id] = await services.store.customer_conversation_ids(day)
    conversation = await services.store.conversation(day_id)
    assert conversation.queue == "service" and "after-hours" not in conversation.tags
    assert [m for m in await services.store.messages(day_id) if m.direction == "outbound"] == []
    assert len(fake_twilio.sent) == 1
