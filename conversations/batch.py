"""Many conversations at once: pipelined reads, and writes that apply only if nothing changed since.

For work that handles conversations by the thousand (the sweeper arming SLA
timers): ``read_many`` reads a batch in three pipelined round trips (locators,
hashes, the timelines asked for) where ``ConversationStore.conversation`` and
``messages`` take three or four per conversation; ``write_many`` writes field
changes of a batch with one script call per conversation, all in one pipeline.

``write_many`` is optimistic like ``ConversationStore.mutate``, without WATCH
(which needs a connection per conversation): each conversation's script
writes only if the hash's ``index_version`` (bumped by every change of the
hash, ingest included) and the timeline's last entry are still what was
read, and answers ``changed`` otherwise; the caller decides again on a fresh
read. Each script touches one customer's slot, so the pipeline works on a
Redis Cluster too (redis-py's cluster pipeline sends each command to the node
of its slot). The backlog index follows as ``mutate`` keeps it on a cluster:
an intent for every conversation first, the synced entries after the writes
(``BacklogIndex.intend_many``, ``apply_many``); a crash in between leaves the
intents, which the sweeper's ``repair`` finishes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from conversations import codec, keys
from conversations.backlog import VERSION_FIELD, Entry, after_change, entry_of
from conversations.index import BacklogIndex
from conversations.models import Conversation, Message

NOT_READ = "*"  # ``Snapshot.last_entry`` when the timeline was not read: the write does not compare it
GROUP = 200  # conversations per script call (one Redis); on a cluster a call holds one slot's
# Each read script answers one JSON string for a whole group: redis-py parses one reply (json.loads
# is C) where pipelined HGETALL/XRANGE replies cost it a Python parse step per field and a
# timeout context per reply (~300 µs per conversation on the 2-core machine of docs/PERFORMANCE.md).
LOCATE_SCRIPT = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('GET', KEYS[i]) or '' end
return cjson.encode(out)
"""
# A hash or a stream entry's fields as a JSON object; an empty one encodes as {} either way.
_MAP = """
local function map(flat)
  local m = {}
  for j = 1, #flat, 2 do m[flat[j]] = flat[j + 1] end
  return m
end
"""
HASH_SCRIPT = _MAP + """
local out = {}
for i = 1, #KEYS do out[i] = map(redis.call('HGETALL', KEYS[i])) end
return cjson.encode(out)
"""
STREAM_SCRIPT = _MAP + """
local out = {}
for i = 1, #KEYS do
  local entries = {}
  for j, entry in ipairs(redis.call('XRANGE', KEYS[i], '-', '+')) do entries[j] = {entry[1], map(entry[2])} end
  out[i] = entries
end
return cjson.encode(out)
"""
# One conversation's hash and timeline, read in one atomic step (a consistent snapshot).
SNAPSHOT_SCRIPT = _MAP + """
local entries = {}
for j, entry in ipairs(redis.call('XRANGE', KEYS[2], '-', '+')) do entries[j] = {entry[1], map(entry[2])} end
return cjson.encode({map(redis.call('HGETALL', KEYS[1])), entries})
"""
# KEYS: per conversation its hash and its timeline stream. ARGV[1]: JSON, per conversation
# [index_version read, last stream id read ("" empty, "*" not read: not compared),
#  {name: value to set}, [names to delete], [timeline entries to append, each [name, value, ...]]]. Answers per conversation 1 written, 0 changed since
# read, -1 gone.
WRITE_SCRIPT = """
local out = {}
for n, item in ipairs(cjson.decode(ARGV[1])) do
  local hash, stream = KEYS[2 * n - 1], KEYS[2 * n]
  local result = 1
  if redis.call('EXISTS', hash) == 0 then
    result = -1
  else
    local version = tonumber(redis.call('HGET', hash, 'index_version') or '0')
    if version ~= tonumber(item[1]) then
      result = 0
    elseif item[2] ~= '*' then
      local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
      local id = ''
      if last[1] then id = last[1][1] end
      if id ~= item[2] then result = 0 end
    end
    if result == 1 then
      local set = {'index_version', tostring(version + 1)}
      for name, value in pairs(item[3]) do
        set[#set + 1] = name
        set[#set + 1] = value
      end
      redis.call('HSET', hash, unpack(set))
      if #item[4] > 0 then redis.call('HDEL', hash, unpack(item[4])) end
      for _, entry in ipairs(item[5]) do redis.call('XADD', stream, '*', unpack(entry)) end
    end
  end
  out[n] = result
end
return out
"""
# ZADD of many members to one key; ARGV[1]: JSON [score, member, score, member, ...].
ZADD_SCRIPT = """
local pairs_ = cjson.decode(ARGV[1])
for i = 1, #pairs_, 1000 do
  redis.call('ZADD', KEYS[1], unpack(pairs_, i, math.min(i + 999, #pairs_)))
end
return #pairs_ / 2
"""
WRITTEN, CHANGED, GONE = "written", "changed", "gone"
_OUTCOMES = {1: WRITTEN, 0: CHANGED, -1: GONE}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One conversation as read: the model, its raw hash, and its timeline if it was asked for."""

    conversation: Conversation
    fields: dict[str, str]
    timeline: list[Message] | None  # in accepted order; delivery states are not read
    last_entry: str  # the timeline's last stream id ("" = empty), or NOT_READ

    @property
    def version(self) -> int:
        return int(self.fields.get(VERSION_FIELD) or 0)


@dataclass(slots=True)
class FieldWrite:
    """Fields to set and delete and timeline entries to append, if the conversation is still as ``snapshot`` read it.

    As ``ConversationStore.mutate`` writes a ``Change``; the caller publishes the messages afterwards.
    """

    snapshot: Snapshot
    fields: dict[str, str | int] = field(default_factory=dict)
    delete_fields: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)  # appended to the timeline


async def read_many(redis: Any, conversation_ids: Iterable[str],
                    with_timeline: Callable[[Conversation], bool]) -> dict[str, Snapshot]:
    """The conversations that exist, by id; timelines only of those ``with_timeline`` picks."""
    wanted = list(dict.fromkeys(conversation_ids))
    owners = await _grouped(redis, LOCATE_SCRIPT, [([keys.conversation_locator(c)], None) for c in wanted])
    located = [(c, keys.CustomerKeys(owner)) for c, owner in zip(wanted, owners, strict=True) if owner]
    hashes = await _grouped(redis, HASH_SCRIPT, [([ck.conversation(c)], None) for c, ck in located])
    found = [(conversation_id, fields, codec.conversation_from_hash(fields))
             for (conversation_id, _), fields in zip(located, hashes, strict=True) if fields]
    reading = [(c, keys.CustomerKeys(conversation.customer_id)) for c, _, conversation in found
               if with_timeline(conversation)]
    streams = await _grouped(redis, STREAM_SCRIPT, [([ck.messages(c)], None) for c, ck in reading])
    timelines = {c: entries or [] for (c, _), entries in zip(reading, streams, strict=True)}
    snapshots: dict[str, Snapshot] = {}
    for conversation_id, fields, conversation in found:
        entries = timelines.get(conversation_id)
        if entries is None:
            snapshots[conversation_id] = Snapshot(conversation, fields, None, NOT_READ)
            continue
        timeline = [codec.message_from_fields(conversation_id, entry) for _, entry in entries]
        snapshots[conversation_id] = Snapshot(conversation, fields, timeline, entries[-1][0] if entries else "")
    return snapshots


async def snapshot(redis: Any, customer_id: str, conversation_id: str) -> tuple[dict[str, str],
                                                                             list[tuple[str, dict[str, str]]]]:
    """One conversation's hash and its timeline entries (stream id, fields), read in one atomic step."""
    ck = keys.CustomerKeys(customer_id)
    reply = await redis.eval(SNAPSHOT_SCRIPT, 2, ck.conversation(conversation_id), ck.messages(conversation_id))
    fields, entries = json.loads(reply)
    return fields or {}, [(entry_id, entry or {}) for entry_id, entry in entries or []]


async def write_many(redis: Any, index: BacklogIndex, writes: list[FieldWrite]) -> dict[str, str | BaseException]:
    """Apply each write unless its conversation changed since its snapshot; the index follows.

    Returns, by conversation id: ``written``, ``changed`` (read it again and decide anew),
    ``gone``, or the error a script call met (only the conversations of that call have it).
    """
    if not writes:
        return {}
    intents = await index.intend_many("conv", [write.snapshot.conversation.id for write in writes])
    calls: list[tuple[list[str], Any]] = []
    for write in writes:
        conversation_id = write.snapshot.conversation.id
        ck = keys.CustomerKeys(write.snapshot.conversation.customer_id)
        entries = [[part for pair in codec.message_fields(message).items() for part in pair]
                   for message in write.messages]
        item = [str(write.snapshot.version), write.snapshot.last_entry,
                {name: str(value) for name, value in write.fields.items()}, write.delete_fields, entries]
        calls.append(([ck.conversation(conversation_id), ck.messages(conversation_id)], item))
    replies = await _grouped(redis, WRITE_SCRIPT, calls, encoded=False)
    outcomes: dict[str, str | BaseException] = {}
    synced: list[tuple[Entry, str]] = []
    unneeded: list[str] = []
    for write, intent, reply in zip(writes, intents, replies, strict=True):
        conversation_id = write.snapshot.conversation.id
        if isinstance(reply, BaseException):
            outcomes[conversation_id] = reply  # its intent stays: the repair re-syncs it from Redis
            continue
        outcome = _OUTCOMES[int(reply)]
        outcomes[conversation_id] = outcome
        if outcome == WRITTEN:
            version = {VERSION_FIELD: write.snapshot.version + 1}
            after = after_change(write.snapshot.fields, {**write.fields, **version}, write.delete_fields)
            synced.append((entry_of(after), intent))
        else:
            unneeded.append(intent)
    await index.forget_many(unneeded)
    await index.apply_many(synced)
    return outcomes


async def _grouped(redis: Any, text: str, calls: list[tuple[list[str], Any]], *, encoded: bool = True) -> list[Any]:
    """Run script ``text`` over many (keys, item) pairs, ``GROUP`` per call, pipelined; one answer per pair.

    A call gets the keys of its pairs in order and, unless every item is None, ``ARGV[1]``: their
    items as one JSON list (redis-py packs each argument in Python, ~5 µs apiece; one string per call
    is packed once). The script answers a list, as a JSON string if ``encoded``. On a cluster a call
    holds the pairs of one slot only. Without ``encoded`` a pair whose call failed gets that call's
    error; with it, a failure raises.
    """
    if not calls:
        return []
    cluster = isinstance(redis, RedisCluster)
    groups: list[list[int]] = []
    if cluster:
        by_slot: dict[int, list[int]] = {}
        for n, (key_names, _) in enumerate(calls):
            by_slot.setdefault(key_slot(key_names[0].encode()), []).append(n)
        for members in by_slot.values():
            groups += [members[i:i + GROUP] for i in range(0, len(members), GROUP)]
    else:
        groups = [list(range(i, min(i + GROUP, len(calls)))) for i in range(0, len(calls), GROUP)]
    script = None if cluster else redis.register_script(text)
    async with redis.pipeline(transaction=False) as pipe:
        for group in groups:
            key_names = [name for n in group for name in calls[n][0]]
            items = [calls[n][1] for n in group]
            args = [] if all(item is None for item in items) else [json.dumps(items)]
            if script is None:  # the text each time: no node of the cluster can answer NOSCRIPT
                pipe.eval(text, len(key_names), *key_names, *args)
            else:
                await script(keys=key_names, args=args, client=pipe)
        replies = await pipe.execute(raise_on_error=encoded)
    answers: list[Any] = [None] * len(calls)
    for group, reply in zip(groups, replies, strict=True):
        answer = [reply] * len(group) if isinstance(reply, BaseException) else (
            json.loads(reply) if encoded else reply)
        for n, item in zip(group, answer, strict=True):
            answers[n] = item
    return answers


async def zadd_many(redis: Any, key: str, members: dict[str, int]) -> None:
    """``ZADD key`` of many members in one script call (its arguments packed as one string)."""
    if members:
        flat = [str(value) for member, score in members.items() for value in (score, member)]
        await redis.eval(ZADD_SCRIPT, 1, key, json.dumps(flat))
