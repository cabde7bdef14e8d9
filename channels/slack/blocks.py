"""Pure rendering: the parent message of a conversation and the lines of its thread.

Everything a customer (or a customer's mail server) controls is escaped
(``&``, ``<``, ``>``), so ``<!channel>``, ``<!here>``, ``<@U…>`` and links written
by a customer stay text and never ping anyone. Names, subjects and addresses
become one line (``inline``), so they cannot start a line of their own; the
customer's words are a block quote (``quote``): every line of theirs starts
with Slack's quote bar, so none can pass for the gateway's own lines
(``:memo: *Note by …*``, ``*Agent* replied``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from conversations.messages import FULL_TEXT, SENDER_UNVERIFIED, SIGNATURE
from conversations.models import (
    Channel,
    Conversation,
    Customer,
    DeliveryStatus,
    Direction,
    Message,
    Status,
)
from conversations.ratings import QUESTION, QUESTION_META

ICONS = {Channel.EMAIL: ":email:", Channel.SMS: ":iphone:", Channel.SLACK: ":slack:",
         Channel.WEBCHAT: ":speech_balloon:"}
EVENT_ICONS = {"sla_warning": ":warning:", "sla_breach": ":rotating_light:", "sla_alert": ":rotating_light:", "escalated": ":arrow_double_up:",
               "transferred": ":arrow_right:", "assigned": ":raising_hand:", "resolved": ":white_check_mark:",
               "reopened": ":leftwards_arrow_with_hook:", "routed": ":twisted_rightwards_arrows:",
               "opted_out": ":no_bell:", "opted_in": ":bell:", "help": ":grey_question:",
               "csat_sent": ":bar_chart:", "csat_rated": ":star:"}
SLA_FIELDS = (("sla_first_response_due", "First response"), ("sla_next_response_due", "Next response"),
              ("sla_resolution_due", "Resolution"))
MAX_MESSAGE_CHARS = 1500  # longer customer texts are cut; "Show full email" shows the whole message
MAX_SECTION_CHARS = 3000  # Slack's limit for a section block's text
MAX_EPHEMERAL_CHARS = 39_000  # Slack cuts a message's text at 40,000 characters
MAX_SIGNATURE_CHARS = 200
MAX_INLINE_CHARS = 200  # a name or subject; longer ones are cut
FULL_MESSAGE_ACTION = "gw_full_message"
QUEUES = ("service", "support")
OK = frozenset({DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ})
FAILED = frozenset({DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED})

# A Block Kit element as Slack's JSON takes it (sections, context, buttons, ...).
Block = dict[str, Any]

# Agent replies typed in a Slack thread carry where they were typed, so the thread does not echo them.
AGENT_CHANNEL = "agent_slack_channel"
AGENT_THREAD = "agent_slack_thread"

# The reaction the gateway puts on an agent's message in a conversation's thread, so everybody sees at once
# where it went (channels/slack/threadreplies.py decides).
REACTIONS = {"customer": "outbox_tray", "internal": "lock", "refused": "x"}


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline(text: str, limit: int = MAX_INLINE_CHARS) -> str:
    """A customer-controlled name, subject or reason as escaped text on one line."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[:limit].rstrip() + "…"
    return escape(flat)


def code(text: str) -> str:
    """Inside a `code span`: a backtick of the value would end the span early."""
    return inline(text).replace("`", "'")


def quote(text: str) -> str:
    """The customer's words as a Slack block quote: escaped, every line behind the quote bar."""
    return "\n".join(f">{' ' if line else ''}{line}" for line in escape(text).split("\n"))


def slack_date(ms: str) -> str:
    """A deadline Slack shows in each reader's own timezone."""
    seconds = int(ms) // 1000
    return f"<!date^{seconds}^{{date_short_pretty}} {{time}}|{seconds}>"


def parent_text(conversation: Conversation, customer: Customer) -> str:
    """The notification text of the parent (what a push notification shows)."""
    return (f"{inline(customer.name or 'A customer')}: {conversation.queue} tier {conversation.tier}, "
            f"{conversation.priority.value} priority")


def to_slack_blocks(conversation: Conversation, customer: Customer, *, history: Sequence[Conversation] = (),
                    moved_to: tuple[str, str | None] | None = None) -> list[Block]:
    """The parent message: who, where, why, the clocks, earlier conversations and the actions.

    Args:
        history: the customer's earlier conversations, newest first.
        moved_to: (channel name, permalink) when the conversation moved on; the
            buttons go away and the message points to the new thread.
    """
    icon = ICONS.get(conversation.last_inbound_channel, ":speech_balloon:") if conversation.last_inbound_channel \
        else ":speech_balloon:"
    identities = ", ".join(f"`{code(i.key)}`" for i in customer.identities) or "none"
    headline = f"{icon} *{inline(customer.name or 'Unknown customer')}*"
    if conversation.subject:
        headline += f": {inline(conversation.subject)}"
    unverified = conversation.extra.get(SENDER_UNVERIFIED)
    if unverified:
        headline += f"\n:warning: *Unverified sender* ({inline(unverified)}): the From address may be forged."
    blocks: list[Block] = []
    if moved_to is not None:
        channel, link = moved_to
        where = f"<{link}|{escape(channel)}>" if link else escape(channel)
        blocks.append(_section(f":arrow_right: *Moved to {where}.* Continue there; replies here still reach "
                               f"the customer."))
    blocks.append(_section(headline))
    facts = [
        f"*Queue:* {conversation.queue or 'unrouted'} · tier {conversation.tier} · {conversation.priority.value}",
        f"*Status:* {conversation.status.value}" + (f" · claimed by {inline(conversation.assignee)}"
                                                     if conversation.assignee else " · unclaimed"),
        f"*Identities:* {identities}",
        f"*Routed by:* {inline(conversation.rule or 'no rule')}",
    ]
    if conversation.tags:
        facts.append("*Tags:* " + " ".join(f"`{code(t)}`" for t in conversation.tags))
    deadlines = [f"{label} {slack_date(conversation.extra[f])}" for f, label in SLA_FIELDS
                 if conversation.extra.get(f, "").isdigit()]
    if deadlines:
        facts.append("*SLA due:* " + " · ".join(deadlines))
    blocks.append(_section("\n".join(facts)))
    if history:
        lines = [f"• {c.created_at:%Y-%m-%d} {c.queue or '-'} · {c.status.value} · {c.message_count} messages"
                 + (f" · {inline(c.subject)}" if c.subject else "") for c in history[:3]]
        more = f"\n…and {len(history) - 3} more" if len(history) > 3 else ""
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": "*Earlier conversations:*\n" + "\n".join(lines) + more}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Conversation `{conversation.id}`"}]})
    if moved_to is None:
        blocks.append({"type": "actions", "block_id": "gw_actions", "elements": _buttons(conversation)})
    return blocks


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id,
                     "value": value}
    if style:
        button["style"] = style
    return button


def _buttons(conversation: Conversation) -> list[Block]:
    cid = conversation.id
    if conversation.status == Status.RESOLVED:
        return [_button("Add note", "gw_note", cid)]
    buttons = [_button("Claim", "gw_claim", cid, "primary"), _button("Escalate", "gw_escalate", cid)]
    buttons += [_button(f"Transfer to {q}", f"gw_transfer_{q}", cid) for q in QUEUES if q != conversation.queue]
    buttons += [_button("Resolve", "gw_resolve", cid), _button("Add note", "gw_note", cid)]
    return buttons


# -- thread lines ------------------------------------------------------------------------


def message_line(message: Message, *, thread: tuple[str, str], link: Callable[[str], str] | None = None) -> str | None:
    """One timeline entry as a line of the thread; ``None`` when the thread already shows it.

    ``link`` makes a stored file's signed URL, which opens without Slack or provider credentials.
    """
    if message.direction == Direction.INBOUND:
        channel = message.channel.value if message.channel else "?"
        text = message.text
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[:MAX_MESSAGE_CHARS].rstrip() + "…"
        files = _files(message, link)
        unverified = message.meta.get(SENDER_UNVERIFIED)
        flag = f" :warning: *unverified sender* ({inline(unverified)})" if unverified else ""
        words = f"\n{quote(text)}" if text else ""
        return f"*{inline(message.author)}* ({channel}){flag}:{words}{files}"
    if message.direction == Direction.OUTBOUND:
        if (message.meta.get(AGENT_CHANNEL), message.meta.get(AGENT_THREAD)) == thread:
            return None  # the agent typed it in this very thread
        who = "Auto-reply" if message.meta.get("automatic") == "1" else f"*{inline(message.author)}* replied"
        if message.meta.get(QUESTION_META) == QUESTION:
            who = "Satisfaction survey"
        channel = message.channel.value if message.channel else "?"
        return f":outbox_tray: {who} ({channel}): {escape(message.text)}{_files(message, link)}"
    if message.direction == Direction.NOTE:
        if (message.meta.get(AGENT_CHANNEL), message.meta.get(AGENT_THREAD)) == thread:
            return None  # typed in this very thread (kept internal): it is there already, with its :lock:
        return f":memo: *Note by {inline(message.author)}:* {escape(message.text)}"
    return f"{EVENT_ICONS.get(message.kind or '', ':information_source:')} {escape(message.text)}"


def _files(message: Message, link: Callable[[str], str] | None) -> str:
    """One line per file: a stored one links its signed URL; one not kept says why."""
    lines = []
    for attachment in message.attachments:
        if attachment.id and link is not None:
            shown = _file(attachment.name, link(attachment.id))
        elif attachment.id or attachment.refused:
            shown = inline(attachment.name)  # a provider's link would need its credentials
        else:
            shown = _file(attachment.name, attachment.url)
        if attachment.refused:
            shown += f" _(not kept: {inline(attachment.refused, 200)})_"
        lines.append(f"\n:paperclip: {shown}")
    return "".join(lines)


def _file(name: str, url: str | None) -> str:
    """An attachment: a link only to an http(s) URL, which cannot close the link markup early."""
    if url and url.startswith(("https://", "http://")):
        return f"<{escape(url).replace('|', '%7C')}|{inline(name)}>"
    return inline(name)


def delivery_notice(message: Message) -> tuple[str, str] | None:
    """(marker, line) for an outbound message whose delivery settled; ``None`` while on its way."""
    if message.direction != Direction.OUTBOUND or message.delivery is None:
        return None
    said = inline(message.text, 60)
    channel = message.channel.value if message.channel else "?"
    if message.delivery in FAILED:
        reason = inline(message.delivery_error or "no reason given", 500)  # a remote server's words
        return f"{message.id}:failed", f":x: Not delivered ({channel}): “{said}”: {reason}"
    if message.delivery in OK:
        word = "Sent" if message.delivery == DeliveryStatus.SENT else "Delivered"
        return f"{message.id}:ok", f":heavy_check_mark: {word} ({channel}): “{said}”"
    return None


def moved_line(channel: str, link: str | None) -> str:
    where = f"<{link}|{escape(channel)}>" if link else escape(channel)
    return f":arrow_right: This conversation moved to {where} with its whole history. Continue there."


def edit_notice(kind: str, route: str = "customer") -> str:
    if route == "internal":
        return (":warning: The note keeps what you first wrote: edits and deletes here do not change it. "
                "Add a new note (`!note …`) if needed.")
    if kind == "agent_delete":
        return (":warning: Deleting a reply here does not unsend it: the customer already has it. "
                "Send a correction as a new reply if needed.")
    return (":warning: Edits are not sent: the customer keeps the original reply. "
            "Send the correction as a new reply.")


# -- the whole message, one click away --------------------------------------------------


def has_more(message: Message) -> bool:
    """The thread shows less than the customer sent: quoted history, a signature, or a cut text."""
    if message.direction != Direction.INBOUND:
        return False
    meta = message.meta
    return bool(meta.get(FULL_TEXT) or meta.get(SIGNATURE)) or len(message.text) > MAX_MESSAGE_CHARS


def signature_line(signature: str) -> str:
    """A signature collapsed to one short grey line."""
    flat = " · ".join(line.strip() for line in signature.splitlines() if line.strip())
    if len(flat) > MAX_SIGNATURE_CHARS:
        flat = flat[:MAX_SIGNATURE_CHARS].rstrip() + "…"
    return f"Signature: {escape(flat)}"


def full_message_button(message: Message) -> dict[str, Any]:
    label = "Show full email" if message.channel == Channel.EMAIL else "Show full message"
    return {"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": FULL_MESSAGE_ACTION,
            "value": f"{message.conversation_id} {message.id}"}


def message_blocks(line: str, message: Message) -> list[dict[str, Any]]:
    """A thread entry with more behind it: the line, the signature collapsed, and the "Show full email" button."""
    if len(line) > MAX_SECTION_CHARS:
        line = line[:MAX_SECTION_CHARS - 1] + "…"
    out: list[dict[str, Any]] = [_section(line)]
    signature = message.meta.get(SIGNATURE, "")
    if signature:
        out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": signature_line(signature)}]})
    out.append({"type": "actions", "block_id": f"gw_full_{message.id}", "elements": [full_message_button(message)]})
    return out


def original_text(message: Message) -> list[str]:
    """The whole message as the customer sent it (quoted history, signature), for the agent who asked.

    One Slack message per ``MAX_EPHEMERAL_CHARS``, cut between lines: a long mail
    comes whole in parts, never as a pointer to the token-protected admin API.
    """
    subject = message.meta.get("subject", "")
    kind = "email" if message.channel == Channel.EMAIL else "message"
    head = f"*Full {kind} from {inline(message.author)}*"
    if subject:
        head += f" — {inline(subject)}"
    body = message.meta.get(FULL_TEXT) or message.text
    signature = message.meta.get(SIGNATURE, "")
    if signature and signature not in body:
        body = f"{body}\n-- \n{signature}"
    chunks = _chunks(quote(body), MAX_EPHEMERAL_CHARS - len(head) - 20)
    if len(chunks) == 1:
        return [f"{head}\n{chunks[0]}"]  # the customer's words, quoted: no line of theirs passes for ours
    count = len(chunks)
    titles = [f"{head} (1 of {count})"] + [f"*Full {kind} ({n} of {count})*" for n in range(2, count + 1)]
    return [f"{title}\n{chunk}" for title, chunk in zip(titles, chunks, strict=True)]


def _chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, cut at line ends (a longer line is cut in it)."""
    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for line in text.split("\n"):
        while len(line) > size:
            chunks.extend(["\n".join(current)] if current else [])
            current, length = [], 0
            chunks.append(line[:size])
            line = line[size:]
        if current and length + 1 + len(line) > size:
            chunks.append("\n".join(current))
            current, length = [], 0
        length += len(line) + (1 if current else 0)
        current.append(line)
    if current or not chunks:
        chunks.append("\n".join(current))
    return chunks
