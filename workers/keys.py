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
- ``gw:{report}:*``: the reports' rows, hours, versions, stale hours, marks and
  cached aggregates (``report_store.py``).
- ``gw:trend:<name>:hits|since|firing``, ``gw:{alerts}``, ``gw:{alerts}:<id>``:
  trend counting and the alerts (``trends.py``).
- ``gw:proactive:batch:<id>`` (+ ``:recipients``, ``:results``),
  ``gw:proactive:pace:<channel>``, ``gw:proactive:idempotency:<sha256>``:
  proactive batches, the per-channel pace and ``Idempotency-Key`` answers.
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


# The reports (``report_store.py``): one hash tag, so a row, its hour and the hour's version
# change in one script on a Redis Cluster too.
REPORT_TAG = f"{PREFIX}:{{report}}"
REPORT_HOURS = f"{REPORT_TAG}:hours"  # zset: epoch hour -> epoch hour, the hours with rows
REPORT_VERSIONS = f"{REPORT_TAG}:version"  # hash: epoch hour -> counter bumped by every row change
REPORT_STALE = f"{REPORT_TAG}:stale"  # set: hours to re-aggregate
REPORT_DIRTY = f"{REPORT_TAG}:dirty"  # zset: conversation id -> changes since its row was recorded


def report_hour(hour: int) -> str:
    """hash: conversation id -> its report row, by the hour it opened."""
    return f"{REPORT_TAG}:hour:{hour}"


def report_aggregate(hour: int) -> str:
    """string: the hour's cached aggregate with the version it was computed at."""
    return f"{REPORT_TAG}:agg:{hour}"


# Trend alerts (``trends.py``): the list and the alerts share a hash tag (one Cluster slot).
ALERTS = f"{PREFIX}:{{alerts}}"  # zset: alert id -> fired (ms)


def alert(alert_id: str) -> str:
    return f"{ALERTS}:{alert_id}"


def trend_hits(name: str) -> str:
    """zset: conversation id -> opened (ms), each counted once."""
    return f"{PREFIX}:trend:{name}:hits"


def trend_since(name: str) -> str:
    """string: ms the trend was first watched."""
    return f"{PREFIX}:trend:{name}:since"


def trend_firing(name: str) -> str:
    """string: the alert of the current burst."""
    return f"{PREFIX}:trend:{name}:firing"


# Proactive messages (``proactive.py``, ``pacing.py``, the admin API's ``Idempotency-Key``).
def proactive_batch(batch_id: str) -> str:
    """hash: a batch's message and progress; ``:recipients`` list and ``:results`` hash beside it."""
    return f"{PREFIX}:proactive:batch:{batch_id}"


def proactive_pace(channel: str) -> str:
    """string (ms): the channel's next free slot for batch sends."""
    return f"{PREFIX}:proactive:pace:{channel}"


def proactive_idempotency(digest: str) -> str:
    """string (24 h): "pending", then the first answer of a request with that key."""
    return f"{PREFIX}:proactive:idempotency:{digest}"
