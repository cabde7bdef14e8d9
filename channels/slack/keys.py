"""The Slack channel's Redis keys, all under ``gw:slack:``, and how long they live.

Keys (global, not in a customer's slot: Slack ids are looked up before the
customer is known):

- ``gw:slack:conv:{conversation}``: hash, the conversation's thread in the
  queue channel: ``target`` (the rule file's channel name), ``channel`` (id),
  ``ts`` (parent), ``cursor`` (timeline entries already shown in this thread),
  ``parent_hash``, ``moving_from`` ("channel ts" of a thread still to mark as
  moved), ``job_queue`` (where its jobs run), ``error`` (last permanent error).
- ``gw:slack:conv:{conversation}:notices``: set, delivery notices shown in the
  current thread (``<message id>:ok`` / ``<message id>:failed``).
- ``gw:slack:conv:{conversation}:dirty`` / ``:queued``: strings, "something to
  show" and "a sync job is waiting" (see ``console.sync``).
- ``gw:slack:conv:{conversation}:lock``: the per-conversation posting lock.
- ``gw:slack:conv:{conversation}:pause``: string with a TTL, set on a 429 for
  Retry-After: no sync posts for the conversation until it expires.
- ``gw:slack:thread:{channel}:{ts}``: string, the conversation a thread (current
  or moved) belongs to.
- ``gw:slack:event:{event_id}``: SET NX with a TTL, one Events API delivery.
- ``gw:slack:once:{key}``: SET NX, an agent action (thread reply, button,
  command) handled at most once; for a thread message the value says where it went
  (``customer``, ``internal``, ``refused``).
- ``gw:slack:profile:{user}``: string with a TTL, a user's display name and profile e-mail as JSON
  (``api.user_profile``), for the author of what an agent does from Slack.
- ``gw:slack:customer_user:{user}``: string, this Slack user wrote to us as a
  customer (DM or customer channel): never an agent (``agents.py``).
- ``gw:slack:usergroup:{group}``: string with a TTL, a user group's members as
  JSON, cached for ``agents.GROUP_TTL``.
"""

from __future__ import annotations

PREFIX = "gw:slack"
EVENT_TTL = 24 * 3600  # Slack retries for about 5 minutes; a day is generous and still bounded
ONCE_TTL = 7 * 24 * 3600
QUEUED_TTL = 60  # a lost "queued" marker heals within a minute
LOCK_SECONDS = 120  # longer than a pass takes; a crashed holder frees it after this


def conversation_key(conversation_id: str) -> str:
    return f"{PREFIX}:conv:{conversation_id}"


def notices_key(conversation_id: str) -> str:
    return f"{PREFIX}:conv:{conversation_id}:notices"


def dirty_key(conversation_id: str) -> str:
    return f"{PREFIX}:conv:{conversation_id}:dirty"


def queued_key(conversation_id: str) -> str:
    return f"{PREFIX}:conv:{conversation_id}:queued"


def pause_key(conversation_id: str) -> str:
    return f"{PREFIX}:conv:{conversation_id}:pause"


def lock_key(conversation_id: str) -> str:
    return f"{PREFIX}:conv:{conversation_id}:lock"


def thread_key(channel: str, ts: str) -> str:
    return f"{PREFIX}:thread:{channel}:{ts}"


def event_key(event_id: str) -> str:
    return f"{PREFIX}:event:{event_id}"


def once_key(key: str) -> str:
    return f"{PREFIX}:once:{key}"


def user_profile_key(user: str) -> str:
    return f"{PREFIX}:profile:{user}"


def customer_user_key(user: str) -> str:
    return f"{PREFIX}:customer_user:{user}"


def usergroup_key(group: str) -> str:
    return f"{PREFIX}:usergroup:{group}"
