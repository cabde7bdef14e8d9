"""Pure reading of Slack ``message`` events: who wrote, and what the gateway should do with it.

Agents work in queue channels; customers write in DMs to the app or in
channels configured as customer channels (Slack Connect). Everything else is
noise: bots (ours and others'), joins and topic changes, and the
``message_changed``/``message_deleted`` echoes, except that an agent editing
or deleting a reply is told the customer keeps the original.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conversations.messages import InboundMessage, InvalidPayload
from channels.slack.files import described
from conversations.models import Channel, Identity

# Subtypes that carry a person's words; every other subtype is a system message.
CONTENT_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})


class Kind(enum.StrEnum):
    IGNORE = "ignore"
    CUSTOMER = "customer"  # a customer message: ingest it
    AGENT_REPLY = "agent_reply"  # a thread reply in a queue channel: a reply, if the thread is a conversation's
    AGENT_EDIT = "agent_edit"  # an agent edited a thread reply: not re-sent, tell them
    AGENT_DELETE = "agent_delete"  # an agent deleted a thread reply: not unsent, tell them


@dataclass(frozen=True, slots=True)
class Classified:
    kind: Kind
    reason: str = ""
    channel: str = ""
    ts: str = ""  # the message itself (for edits and deletes: the message edited)
    thread_ts: str = ""  # the thread it is in ("" = top level)
    user: str = ""
    text: str = ""


def classify(event: Mapping[str, Any], *, bot_user_id: str | None,
             customer_channels: Collection[str]) -> Classified:
    """Decide what a ``message`` event is; pure, so every case is a table test."""
    if event.get("type") != "message":
        return Classified(Kind.IGNORE, "not a message")
    channel = str(event.get("channel", ""))
    is_customer_place = event.get("channel_type") == "im" or channel in customer_channels
    subtype = event.get("subtype")
    if subtype in ("message_changed", "message_deleted"):
        return _changed(event, subtype, channel, is_customer_place, bot_user_id)
    if subtype not in CONTENT_SUBTYPES:
        return Classified(Kind.IGNORE, f"system message {subtype}")
    user = event.get("user")
    if event.get("bot_id") or event.get("bot_profile") or not user:
        return Classified(Kind.IGNORE, "from a bot")
    if user == bot_user_id:
        return Classified(Kind.IGNORE, "our own message")
    ts = str(event.get("ts", ""))
    thread_ts = str(event.get("thread_ts") or "")
    text = str(event.get("text") or "")
    if is_customer_place:
        return Classified(Kind.CUSTOMER, "customer channel", channel, ts, thread_ts, user, text)
    if thread_ts and thread_ts != ts:
        return Classified(Kind.AGENT_REPLY, "thread reply", channel, ts, thread_ts, user, text)
    return Classified(Kind.IGNORE, "top-level message in an agents' channel")


def _changed(event: Mapping[str, Any], subtype: str, channel: str, is_customer_place: bool,
             bot_user_id: str | None) -> Classified:
    message = event.get("message" if subtype == "message_changed" else "previous_message") or {}
    if is_customer_place:
        return Classified(Kind.IGNORE, "customer edit: the conversation keeps what was sent")
    if message.get("bot_id") or not message.get("user") or message.get("user") == bot_user_id:
        return Classified(Kind.IGNORE, "a bot's message changed")
    thread_ts = str(message.get("thread_ts") or "")
    ts = str(message.get("ts") or event.get("deleted_ts") or "")
    if not thread_ts or thread_ts == ts:
        return Classified(Kind.IGNORE, "not a thread reply")
    if subtype == "message_changed":
        previous = event.get("previous_message") or {}
        if previous and previous.get("text") == message.get("text"):
            return Classified(Kind.IGNORE, "unchanged text (link preview or reaction)")
        return Classified(Kind.AGENT_EDIT, "reply edited", channel, ts, thread_ts, str(message["user"]),
                          str(message.get("text") or ""))
    return Classified(Kind.AGENT_DELETE, "reply deleted", channel, ts, thread_ts, str(message["user"]))


def to_inbound(body: Mapping[str, Any], event: Mapping[str, Any]) -> InboundMessage:
    """A customer's Slack message as an ``InboundMessage``; identity = team + user."""
    user = event.get("user")
    ts = event.get("ts")
    channel = event.get("channel")
    if not user or not ts or not channel:
        raise InvalidPayload("a Slack message needs user, ts and channel")
    # Slack Connect: the writer's own workspace, not ours.
    team = event.get("user_team") or event.get("team") or body.get("team_id")
    if not team:
        raise InvalidPayload("a Slack message needs a team")
    provider_id = event.get("client_msg_id") or body.get("event_id") or f"{channel}:{ts}"
    profile = event.get("user_profile") or {}
    name = profile.get("display_name") or profile.get("real_name") or None
    files = described(event.get("files") or ())
    text = str(event.get("text") or "")
    if not text.strip() and not files:
        raise InvalidPayload("an empty Slack message")
    try:
        received_at = datetime.fromtimestamp(float(ts), tz=UTC)
    except (ValueError, OverflowError, OSError):  # "abc", "nan", "1e400", beyond year 9999
        raise InvalidPayload(f"a Slack message ts is seconds since 1970, not {str(ts)[:40]!r}") from None
    return InboundMessage(
        channel=Channel.SLACK, identity=Identity(Channel.SLACK, f"{team}:{user}"), provider_id=str(provider_id),
        text=text, received_at=received_at, name=name, attachments=files,
        meta={"slack_channel": str(channel), "slack_ts": str(ts), "slack_thread_ts": str(event.get("thread_ts") or "")},
        facts=customer_thread(event, is_dm=event.get("channel_type") == "im"),
    )


def customer_thread(event: Mapping[str, Any], *, is_dm: bool) -> dict[str, str]:
    """Where agent replies to this customer go: their DM (in its thread, if they used one), or
    the thread of their message in a shared channel (a top-level message starts one)."""
    thread = str(event.get("thread_ts") or "")
    if not is_dm and not thread:
        thread = str(event.get("ts") or "")
    return {"slack_customer_channel": str(event.get("channel", "")), "slack_customer_thread": thread}


def plain_text(text: str) -> str:
    """An agent's Slack mrkdwn as the customer should read it: links spelled out, entities decoded."""
    out: list[str] = []
    rest = text
    while "<" in rest:
        before, _, after = rest.partition("<")
        inner, closed, tail = after.partition(">")
        if not closed:
            break
        out.append(before)
        target, _, label = inner.partition("|")
        if target.startswith(("http://", "https://", "mailto:")):
            address = target.removeprefix("mailto:")
            out.append(f"{label} ({address})" if label and label != address else address)
        else:
            out.append(label or target)  # a mention or channel reference: its label, if Slack gave one
        rest = tail
    out.append(rest)
    return "".join(out).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
