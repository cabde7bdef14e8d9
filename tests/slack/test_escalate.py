"""An agent's Escalate takes the rule file's ``agent`` step whole: tier, SLA policy, restarted clocks.

SLA_RULES (tests/slack/conftest.py): support runs the "standard" policy (first response 1 h,
resolution 2 d); its step from tier 1 to tier 2 on ``agent`` switches to "priority" (first
response 10 m, warning at 50 %, resolution 1 d) and restarts ``first_response``. The Slack button
and the admin API reach the same decision (``ConversationService.escalate``); before that was so,
the Slack path kept the tier of the step but dropped its policy and its restart.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conversations import codec
from tests.conftest import admin_headers
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_console import open_support_conversation
from tests.workers.support import Clock
from workers.sweeper import Sweeper

SUPPORT = FakeSlack.channel_id("#support")
MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000


async def press_escalate(gw, conversation_id: str) -> None:
    """The Escalate button, as Slack posts it (signed interactivity request), then the jobs run."""
    response = await gw.press("gw_escalate", conversation_id, channel=SUPPORT, action_ts="9.1")
    assert response.status == 200, await response.text()
    await gw.drain()


async def post_escalate(gw, conversation_id: str) -> None:
    response = await gw.client.post(f"/api/conversations/{conversation_id}/escalate",
                                    json={"author": "Grace", "reason": "needs a specialist"},
                                    headers=admin_headers())
    assert response.status == 200, await response.text()
    shown = (await response.json())["conversation"]
    assert shown["tier"] == 2 and shown["routing"]["sla_policy"] == "priority"
    assert shown["extra"]["sla_first_response_restarted_at"]
    await gw.drain()


@pytest.mark.parametrize("escalate", [press_escalate, post_escalate], ids=["slack_button", "admin_api"])
async def test_escalate_switches_the_sla_policy_and_restarts_the_clock_as_the_agent_step_says(
        sla_slack_gateway, escalate):
    gw = sla_slack_gateway
    store = gw.runtime.store
    _, conversation_id = await open_support_conversation(gw)
    opened = await store.conversation(conversation_id)
    assert (opened.queue, opened.tier, opened.sla_policy) == ("support", 1, "standard")
    created_ms = codec.to_ms(opened.created_at)

    # The sweeper arms the queue's policy (the marks it claims carry wall-clock times).
    clock = Clock(datetime.now(UTC))
    sweeper = Sweeper(gw.runtime, clock=clock)
    assert await sweeper.arm_marked() == 1
    armed = (await store.conversation(conversation_id)).extra
    assert armed["sla_first_response_due"] == str(created_ms + HOUR_MS)
    assert armed["sla_resolution_due"] == str(created_ms + 2 * DAY_MS)

    before_ms = codec.to_ms(datetime.now(UTC))
    await escalate(gw, conversation_id)
    after_ms = codec.to_ms(datetime.now(UTC))

    escalated = await store.conversation(conversation_id)
    assert (escalated.queue, escalated.tier) == ("support", 2)
    assert escalated.sla_policy == "priority"
    restarted_ms = int(escalated.extra["sla_first_response_restarted_at"])
    assert before_ms <= restarted_ms <= after_ms
    assert "sla_resolution_restarted_at" not in escalated.extra  # only the clocks the step names
    [event] = [m for m in await store.messages(conversation_id) if m.kind == "escalated"]
    assert event.meta["by"] == "Grace" and event.meta["to_tier"] == "2"

    # Re-armed (the ESCALATED event marked it): the deadlines are the new policy's, the first
    # response counted from the restart, the resolution still from the start.
    clock.now = datetime.now(UTC)
    assert await sweeper.arm_marked() == 1
    rearmed = (await store.conversation(conversation_id)).extra
    assert rearmed["sla_first_response_due"] == str(restarted_ms + 10 * MINUTE_MS)
    assert rearmed["sla_first_response_warning_due"] == str(restarted_ms + 5 * MINUTE_MS)
    assert rearmed["sla_resolution_due"] == str(created_ms + DAY_MS)

    # And the new deadline is what the sweeper fires: nothing before it, the breach at it.
    clock.now = codec.from_ms(restarted_ms + 10 * MINUTE_MS - 1000)
    assert await sweeper.sweep_timers() == 1  # the warning
    clock.now = codec.from_ms(restarted_ms + 10 * MINUTE_MS)
    assert await sweeper.sweep_timers() == 1  # the breach
    breach = [m for m in await store.messages(conversation_id) if m.kind == "sla_breach"]
    assert [m.meta["due"] for m in breach] == [str(restarted_ms + 10 * MINUTE_MS)]
    assert breach[0].text.endswith("(priority policy)")
