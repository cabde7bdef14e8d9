"""``/gateway`` slash commands: pure parsing, and the queue listing.

Slack does not allow slash commands inside threads (and never tells a
command which thread it was typed near), so commands that act on one
conversation name it: the parent message shows ``Conversation `cnv_…```.
The buttons on the parent do the same without typing.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from channels.slack.blocks import inline
from conversations.models import Conversation

QUEUES = ("service", "support")
CONVERSATION_ID = re.compile(r"^cnv_[0-9a-z]{10,40}$")
USAGE = """\
`/gateway queue [service|support]`: open conversations, oldest SLA first
`/gateway claim CONVERSATION`
`/gateway escalate CONVERSATION [reason]`
`/gateway transfer CONVERSATION service|support [reason]`
`/gateway resolve CONVERSATION`
`/gateway note CONVERSATION TEXT`: an internal note, never sent to the customer
`/gateway template CONVERSATION NAME [variable=value …]`: send a response template to the customer
CONVERSATION is the id on the parent message (`cnv_…`). A thread reply `/gateway template NAME \
[variable=value …]` sends that template to the customer."""
THREAD_HELP = {
    "customer": "In a conversation's thread, a plain message is *sent to the customer*; start it with `!note ` "
                "to keep it internal.",
    "internal": "In a conversation's thread, a plain message *stays internal* (a note); start it with `!reply ` "
                "to send it to the customer.",
}
THREAD_RULES = ("A message that only mentions colleagues (`@name`) stays internal. A reaction shows where each "
                "message went: :outbox_tray: to the customer, :lock: internal, :x: nowhere.")


def help_text(thread_replies: str) -> str:
    """``/gateway help``: the commands, and what a message in a thread does in this gateway's mode."""
    return f"{USAGE}\n{THREAD_HELP[thread_replies]} {THREAD_RULES}"


ACTIONS = ("claim", "escalate", "transfer", "resolve", "note", "template")
TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
VARIABLE = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
THREAD_TEMPLATE = re.compile(r"^\s*/gateway\s+template(?:\s+|$)", re.IGNORECASE)


class CommandError(ValueError):
    """What the agent typed makes no sense; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class Command:
    verb: str  # help, queue, or one of ACTIONS
    conversation: str | None = None
    argument: str = ""  # the queue, the reason, or the note


def parse(text: str) -> Command:
    words = text.strip().split(None, 2)
    if not words or words[0].lower() in ("help", "?"):
        return Command("help")
    verb = words[0].lower()
    if verb == "queue":
        queue = words[1].lower() if len(words) > 1 else ""
        if queue and queue not in QUEUES:
            raise CommandError(f"unknown queue {queue!r}; use service or support")
        return Command("queue", argument=queue)
    if verb not in ACTIONS:
        raise CommandError(f"unknown command {verb!r}.\n{USAGE}")
    if len(words) < 2 or not CONVERSATION_ID.match(words[1]):
        raise CommandError(f"`{verb}` needs the conversation id from the parent message (`cnv_…`): "
                           f"Slack does not tell commands which thread they were typed in.")
    rest = words[2].strip() if len(words) > 2 else ""
    if verb == "transfer":
        queue, _, reason = rest.partition(" ")
        if queue.lower() not in QUEUES:
            raise CommandError("`transfer` needs a queue: service or support")
        return Command(verb, words[1], f"{queue.lower()} {reason.strip()}".strip())
    if verb == "note" and not rest:
        raise CommandError("`note` needs the text of the note")
    if verb == "template":
        template_arguments(rest)  # refused now, in the agent's own words, not later in the job
    return Command(verb, words[1], rest)


def template_arguments(text: str) -> tuple[str, dict[str, str]]:
    """``NAME [variable=value …]`` (values may be quoted: ``eta="next Friday"``) → name and variables."""
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise CommandError(f"cannot read the template's variables: {error}") from None
    if not words or not TEMPLATE_NAME.match(words[0]):
        raise CommandError("`template` needs a template name: `template NAME [variable=value …]`")
    variables: dict[str, str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not VARIABLE.match(key):
            raise CommandError(f"{word!r} is not variable=value (quote values with spaces: eta=\"next Friday\")")
        variables[key] = value
    return words[0], variables


def thread_template(text: str) -> tuple[str, dict[str, str]] | None:
    """A thread reply ``/gateway template NAME [variable=value …]``: the template to send, else None.

    Raises:
        CommandError: it asks for a template but names none, or a variable is not ``name=value``.
    """
    match = THREAD_TEMPLATE.match(text)
    if match is None:
        return None
    return template_arguments(text[match.end():])


def sla_due(conversation: Conversation) -> float:
    """The earliest SLA deadline (ms), or infinity: conversations without clocks go last."""
    dues = [int(v) for k, v in conversation.extra.items() if k.startswith("sla_") and k.endswith("_due")
            and v.isdigit()]
    return min(dues) if dues else math.inf


def queue_listing(conversations: Sequence[Conversation], names: dict[str, str], queue: str, *, total: int) -> str:
    """Live conversations of ``queue`` ("" = every queue), already in urgency order, of ``total`` in all."""
    if not conversations:
        return f"No open conversations in {queue or 'any queue'}."
    lines = []
    for c in conversations:
        due = sla_due(c)
        clock = f"due <!date^{int(due) // 1000}^{{date_short_pretty}} {{time}}|soon>" if due != math.inf else "no SLA"
        who = f"claimed by {inline(c.assignee)}" if c.assignee else "unclaimed"
        # Customer names are the customers' own words: escaped, one line, never a mention.
        lines.append(f"• `{c.id}` {inline(names.get(c.customer_id) or 'customer')} · {c.queue} tier {c.tier} · "
                     f"{c.priority.value} · {clock} · {who}")
    more = f"\n…and {total - len(conversations)} more" if total > len(conversations) else ""
    return f"*Open conversations in {queue or 'all queues'}* ({total}):\n" + "\n".join(lines) + more
