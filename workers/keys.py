"""Every Redis key the workers own, in one place (global keys: not in a customer's slot).

- ``gw:timers``: zset, member ``<conversation>|<clock>|<kind>|<generation>``,
  score = due ms (``timers.py``); the sweeper leases due members.
- ``gw:timers:dirty``: zset, conversation id -> when an event may have moved
  its deadlines (ms); the sweeper re-arms them.
- ``gw:timers:sweeper``: string, the active sweeper's token (leader lock).
- ``gw:outbound:pending``: zset, conversation id -> when to check it next (ms):
  conversations with undelivered messages.
- ``gw:outbound:lock:<conversation>``: string, the job delivering it now.
- ``gw:outbound:attempts:<message>``: hash, ``attempts`` and ``not_before`` (ms).
- ``gw:outbound:scan_mark``: ms, conversations active up to here were checked
  for undelivered messages.
- ``gw:failures``: zset, dead-letter ids by time; ``gw:failures:<id>``: hash,
  its details.
- ``gw:metrics:sla``: hash, ``<name>|<label>|<label>`` -> count.
"""

from __future__ import annotations

from conversations.keys import PREFIX

TIMERS = f"{PREFIX}:timers"
TIMERS_DIRTY = f"{PREFIX}:timers:dirty"
SWEEPER_LEADER = f"{PREFIX}:timers:sweeper"
OUTBOUND_PENDING = f"{PREFIX}:outbound:pending"
OUTBOUND_SCAN_MARK = f"{PREFIX}:outbound:scan_mark"
FAILURES = f"{PREFIX}:failures"
SLA_METRICS = f"{PREFIX}:metrics:sla"


def outbound_lock(conversation_id: str) -> str:
    return f"{PREFIX}:outbound:lock:{conversation_id}"


def outbound_attempts(message_id: str) -> str:
    return f"{PREFIX}:outbound:attempts:{message_id}"


def failure(failure_id: str) -> str:
    return f"{FAILURES}:{failure_id}"
