"""Pure: where an agent's message in a conversation's thread goes, to the customer or into a note.

``GATEWAY_SLACK__THREAD_REPLIES`` sets the default for a plain message; the
other way is one prefix away, and a message written to a colleague stays
internal whatever the default:

1. ``!note `` makes the message an internal note, ``!reply `` sends it to the
   customer. The prefix is taken off; case does not matter (phones capitalise
   the first letter). Both work in both modes; the one that changes anything is
   ``!note `` when the default is ``customer`` and ``!reply `` when it is
   ``internal``. An explicit prefix wins over rule 2: it is what the agent typed
   on purpose.
2. A message that mentions Slack users (``<@U…>``) and nobody else stays
   internal: every user it mentions is a colleague (not the conversation's
   customer, when the customer writes from Slack) and it has no ``@here``,
   ``@channel``, ``@everyone`` or user-group mention. Mentions of the gateway's
   own bot user do not count.
3. Otherwise the default.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection
from dataclasses import dataclass


class Route(enum.StrEnum):
    CUSTOMER = "customer"  # sent to the customer on their channel
    INTERNAL = "internal"  # kept as a note in the conversation's timeline, never sent


PREFIXES = {"!note": Route.INTERNAL, "!reply": Route.CUSTOMER}
_PREFIX = re.compile(r"^\s*(!note|!reply)(?:\s+|$)", re.IGNORECASE)
# Slack writes a user mention as <@U123> or <@U123|name>; everything else addressed to people as <!…>.
_USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_OTHER_MENTION = re.compile(r"<!(?:here|channel|everyone|subteam\^)[^>]*>")


@dataclass(frozen=True, slots=True)
class Decision:
    route: Route
    text: str  # what to send or store: the message without its prefix
    why: str  # "prefix", "mention" or "default": for the log and the tests


def decide(text: str, *, default: Route | str, bot_user: str | None = None,
           customer_users: Collection[str] = ()) -> Decision:
    """Where ``text`` (Slack's mrkdwn, as the event carries it) goes; see the module doc."""
    prefix = _PREFIX.match(text)
    if prefix:
        return Decision(PREFIXES[prefix.group(1).lower()], text[prefix.end():].strip(), "prefix")
    if to_colleagues_only(text, bot_user=bot_user, customer_users=customer_users):
        return Decision(Route.INTERNAL, text.strip(), "mention")
    return Decision(Route(default), text.strip(), "default")


def mentioned_users(text: str, *, bot_user: str | None = None) -> frozenset[str]:
    return frozenset(user for user in _USER_MENTION.findall(text) if user != bot_user)


def to_colleagues_only(text: str, *, bot_user: str | None = None, customer_users: Collection[str] = ()) -> bool:
    """The message mentions Slack users, none of them the customer, and no group of people."""
    users = mentioned_users(text, bot_user=bot_user)
    if not users or _OTHER_MENTION.search(text):
        return False
    return not users & frozenset(customer_users)
