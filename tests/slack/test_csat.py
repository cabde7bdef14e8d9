"""CSAT with Slack on both sides: a customer's DM to the app, an agent's Resolve button in the #support thread,
the question back in the DM, the customer's "5" recorded without reopening; the agents' thread shows both.
"""

from __future__ import annotations

from tests.csat_support import QUESTION, SCALE, assert_rated
from tests.slack.conftest import RULES, make_gateway
from tests.slack.fake_slack import FakeSlack
from workers import context

SUPPORT = FakeSlack.channel_id("#support")
CSAT_RULES = RULES.replace('''  support:
    slack_channel: "#support"
''', f'''  support:
    slack_channel: "#support"
    csat: {{question: "{QUESTION}", window: 3d}}
''')


def dm(text: str, ts: str) -> dict:
    return {"type": "message", "channel": "D0CUST", "channel_type": "im", "user": "UCUST", "team": "T0GATEWAY",
            "text": text, "ts": ts, "client_msg_id": f"cm-{ts}", "user_profile": {"display_name": "Margaret"}}


async def test_a_slack_customer_is_asked_in_the_dm_and_rates(aiohttp_client, fake_slack, tmp_path):
    assert "csat:" in CSAT_RULES
    gw = await make_gateway(aiohttp_client, fake_slack, tmp_path, rules=CSAT_RULES)
    try:
        assert (await gw.event(dm("the app shows an error", "1700000300.000001"), event_id="Ev-1")).status == 200
        await gw.drain()
        [conversation_id] = await gw.runtime.store.recent_conversation_ids(limit=5)
        assert (await gw.press("gw_resolve", conversation_id, channel=SUPPORT)).status == 200
        await gw.drain()
        [question] = [m for m in gw.fake.messages if m.channel == "D0CUST"]
        assert question.text == f"{QUESTION}\n{SCALE}"

        await gw.event(dm("5 super fast", "1700000300.000009"), event_id="Ev-2")
        await gw.drain()
        await assert_rated(gw.client, conversation_id, "5", "super fast")
        [parent] = gw.fake.parents("#support")
        lines = "\n".join(m.text for m in gw.fake.thread("#support", parent.ts)).splitlines()
        assert ":bar_chart: Satisfaction survey sent on slack" in lines
        assert f":outbox_tray: Satisfaction survey (slack): {QUESTION}" in lines
        assert lines[-2:] == ["> 5 super fast", ":star: Customer rated 5/5: super fast"]
    finally:
        context.install(None)
