"""Buttons, shortcuts and /gateway commands: each changes the conversation and the thread shows it."""

from __future__ import annotations

from datetime import UTC, datetime

from conversations import codec
from conversations.audit import AuditLog, AuditQuery
from conversations.messages import InboundMessage
from conversations.models import Channel, Identity
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_console import agent_reply_event, blocks_text, open_support_conversation
from tests.workers.support import Clock
from workers.sweeper import Sweeper

SUPPORT = FakeSlack.channel_id("#support")


async def test_claim_updates_the_parent_in_place_with_the_agent_and_the_sla_deadlines(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")
    await gw.runtime.store.set_conversation_fields(conversation_id, {"sla_first_response_due": "1795000000000"})

    await gw.press("gw_claim", conversation_id, channel=SUPPORT)
    await gw.drain()

    assert (await gw.runtime.store.conversation(conversation_id)).assignee == "Grace"
    updated = gw.fake.find("#support", parent.ts)
    assert updated.updates >= 1
    shown = blocks_text(updated.blocks)
    assert "claimed by Grace" in shown and "First response <!date^1795000000^" in shown
    assert any("Grace assigned the conversation to Grace" in m.text for m in gw.fake.thread("#support", parent.ts))
    assert len(gw.fake.parents("#support")) == 1  # updated, not re-posted


async def test_transfer_button_moves_to_the_service_channel(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    await gw.press("gw_transfer_service", conversation_id, channel=SUPPORT)
    await gw.drain()
    assert (await gw.runtime.store.conversation(conversation_id)).queue == "service"
    [new] = gw.fake.parents("#service")
    history = "\n".join(m.text for m in gw.fake.thread("#service", new.ts))
    assert "I get an error when I log in" in history and "transferred the conversation from support to service" \
        in history


async def test_a_refused_action_is_told_to_the_agent_only(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    await gw.press("gw_resolve", conversation_id, channel=SUPPORT, action_ts="1.1")
    await gw.drain()
    await gw.press("gw_resolve", conversation_id, channel=SUPPORT, action_ts="1.2")
    await gw.drain()
    [told] = gw.fake.ok_calls("chat.postEphemeral")
    assert told.args["user"] == "UAGENT" and "already resolved" in told.args["text"]


async def test_the_same_button_press_delivered_twice_acts_once(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    await gw.press("gw_escalate", conversation_id, channel=SUPPORT, action_ts="7.7")
    await gw.press("gw_escalate", conversation_id, channel=SUPPORT, action_ts="7.7")
    await gw.drain()
    assert (await gw.runtime.store.conversation(conversation_id)).tier == 2


async def test_editing_a_sent_reply_tells_the_agent_it_was_not_resent(slack_gateway):
    gw = slack_gateway
    ws, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")
    await gw.event(agent_reply_event(parent.ts, "teh fix", ts="1700000100.000030"), event_id="Ev-e1")
    await gw.drain()
    edit = {"type": "message", "subtype": "message_changed", "channel": SUPPORT, "channel_type": "channel",
            "message": {"user": "UAGENT", "text": "the fix", "ts": "1700000100.000030", "thread_ts": parent.ts},
            "previous_message": {"user": "UAGENT", "text": "teh fix", "ts": "1700000100.000030",
                                 "thread_ts": parent.ts}}
    await gw.event(edit, event_id="Ev-e2")
    await gw.drain()

    replies = [m.text for m in await gw.runtime.store.messages(conversation_id) if m.direction == "outbound"]
    assert replies == ["teh fix"]
    assert any("Edits are not sent" in m.text for m in gw.fake.thread("#support", parent.ts))


async def test_note_button_opens_the_note_modal_for_the_conversation(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    await gw.press("gw_note", conversation_id, channel=SUPPORT)
    [opened] = gw.fake.ok_calls("views.open")
    assert '"private_metadata": "' + conversation_id in str(opened.args).replace("'", '"')


async def test_queue_command_lists_open_conversations_oldest_deadline_first(slack_gateway):
    gw = slack_gateway
    _, first = await open_support_conversation(gw)
    await gw.runtime.store.set_conversation_fields(first, {"sla_first_response_due": "1795000000000"})
    response = await gw.command("queue support")
    text = (await response.json())["text"]
    assert "Open conversations in support" in text and first in text and "Ada" in text
    assert "No open conversations" in (await (await gw.command("queue service")).json())["text"]


async def test_queue_command_finds_a_quiet_conversation_behind_hundreds_of_busier_ones(slack_gateway):
    gw = slack_gateway
    _, quiet = await open_support_conversation(gw)
    await gw.runtime.store.set_conversation_fields(quiet, {"sla_first_response_due": "1795000000000"})
    for n in range(520):  # more than the 500 most recent the command used to read
        await gw.runtime.service.ingest(InboundMessage(Channel.SMS, Identity(Channel.SMS, f"+1555{n:07d}"), f"SM-{n}",
                                                       "I get an error when I log in", datetime.now(UTC)))
    text = (await (await gw.command("queue support")).json())["text"]
    assert "*Open conversations in support* (521):" in text and "…and 501 more" in text
    assert text.splitlines()[1].startswith(f"• `{quiet}` Ada")  # the earliest deadline, listed first


async def test_commands_without_a_conversation_explain_why_it_is_needed(slack_gateway):
    text = (await (await slack_gateway.command("claim")).json())["text"]
    assert "conversation id" in text


async def test_an_sla_breach_written_by_the_workers_is_shown_in_the_thread(sla_slack_gateway):
    gw = sla_slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")
    store = gw.runtime.store
    opened = await store.conversation(conversation_id)
    assert (opened.queue, opened.tier, opened.sla_policy) == ("support", 1, "standard")

    # The workers' timers on a driven clock: the sweeper arms what the ingest marked, then fires
    # the first response warning (75% of 1 h) and breach when the clock reaches them.
    clock = Clock(datetime.now(UTC))  # the marks carry wall-clock times
    sweeper = Sweeper(gw.runtime, clock=clock)
    assert await sweeper.arm_marked() == 1
    due_ms = int((await store.conversation(conversation_id)).extra["sla_first_response_due"])
    assert due_ms == codec.to_ms(opened.created_at) + 3_600_000
    clock.now = codec.from_ms(due_ms - 1000)
    assert await sweeper.sweep_timers() == 1  # the warning only
    clock.now = codec.from_ms(due_ms)
    assert await sweeper.sweep_timers() == 1  # the breach
    await gw.drain()

    breached = await store.conversation(conversation_id)
    assert breached.extra["sla_first_response_breach_fired"] == str(due_ms)
    assert breached.tier == 1  # the path escalates only when an agent asks
    due_text = codec.from_ms(due_ms).strftime("%Y-%m-%dT%H:%M:%S")
    # One thread post may carry several timeline entries, a line each.
    thread = [line for m in gw.fake.thread("#support", parent.ts) for line in m.text.split("\n")]
    [warning] = [t for t in thread if t.startswith(":warning: SLA first response warning")]
    [breach] = [t for t in thread if t.startswith(":rotating_light: SLA first response breached")]
    assert f"due {due_text}" in breach and breach.endswith("(standard policy)")
    assert thread.index(warning) < thread.index(breach)
    assert f"First response <!date^{due_ms // 1000}^" in blocks_text(gw.fake.find("#support", parent.ts).blocks)


async def test_deadlines_armed_by_the_sweeper_appear_on_the_parent(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    [parent] = gw.fake.parents("#support")
    assert "First response" not in blocks_text(parent.blocks)  # the fixture's rules have no SLA policy

    # The admin adds a policy to the support queue; the workers arm it.
    live = gw.runtime.rules
    text = live.path.read_text().replace('    slack_channel: "#support"\n',
                                         '    slack_channel: "#support"\n    sla_policy: standard\n', 1)
    live.path.write_text(text + "sla_policies:\n  standard: {first_response: 1h}\n")
    assert live.reload() is True, live.status()["error"]
    armed = await Sweeper(gw.runtime).arm_marked()
    await gw.drain()

    assert armed >= 1
    due = (await gw.runtime.store.conversation(conversation_id)).extra["sla_first_response_due"]
    updated = gw.fake.find("#support", parent.ts)
    assert f"First response <!date^{int(due) // 1000}^" in blocks_text(updated.blocks)
    assert len(gw.fake.parents("#support")) == 1


async def test_a_slack_agent_action_is_audited_once_under_the_agent_name(slack_gateway):
    gw = slack_gateway
    _, conversation_id = await open_support_conversation(gw)
    await gw.press("gw_escalate", conversation_id, channel=SUPPORT, action_ts="8.8")
    await gw.press("gw_escalate", conversation_id, channel=SUPPORT, action_ts="8.8")
    await gw.drain()
    page = await AuditLog(gw.runtime.redis).query(AuditQuery(conversation=conversation_id))
    assert [(e["action"], e["agent"], e["via"]) for e in page.entries] == [("escalate", "Grace", "gateway")]
