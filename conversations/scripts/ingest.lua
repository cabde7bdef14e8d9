-- Ingest one inbound message, atomically, inside one customer's slot.
--
-- Dedupe on the provider's message id, create the customer if new, append to
-- the live conversation (or reopen the last one within the window, or open a
-- new one), mark the message seen. Every key touched shares the customer's
-- hash tag, so this is valid on Redis Cluster.
--
-- KEYS: 1 customer hash, 2 identities set, 3 conversations list,
--       4 seen hash, 5 seen_at zset
-- ARGV: 1 key tag ("gw:{c:ID}"), 2 customer id, 3 dedupe key,
--       4 id for a new conversation, 5 message id, 6 now (ms),
--       7 reopen window (ms), 8 dedupe retention (ms), 9 customer name,
--       10 channel, 11 subject, 12 thread hint (a conversation id the
--       channel's threading points at, or ""), 13 the rating this text would
--       give ("1".."5", or "" when it does not start with one), 14 its comment,
--       15 "1" when the customer id came from the process's identity cache
--       (then a customer that does not exist, or is being erased, is "gone":
--       the caller asks Redis who owns the identity now, so a cached id never
--       recreates an erased customer), 16 number of rating entry field values
--       (e: the timeline entry stored when the reply is taken as a rating),
--       then e values, then the number of
--       identity keys (n), then n identity keys, then the number of
--       conversation fact values (f: field/value pairs the channel keeps on the
--       conversation), then f values, then message stream field/value pairs.
-- Returns {outcome, conversation id, message id, queue ("" while unrouted, and when the message answers
-- a proactive message: route it), the conversation hash as this leaves it (field, value, ...: the
-- caller indexes it without reading it again)}; outcome is one of
-- opened, reopened, appended, rated, duplicate, or {"moved", customer id}
-- when the customer was merged into another one (the caller retries there), or {"gone"}
-- (see ARGV 15; nothing was written).
--
-- CSAT: a reply that starts with 1-5 while the live conversation is resolved,
-- its survey window open and no rating recorded yet is "rated": stored on that
-- conversation with the rating entry, which stays resolved (no reopen, no new
-- conversation, no SLA clock). Decided here, so a rating and a reopen never race.

local tag = ARGV[1]
local merged = redis.call('HGET', KEYS[1], 'merged_into')
if merged then
  return {'moved', merged, '', '', {}}
end
-- An erasure marks the customer before it releases its identities (conversations/erase.py).
if redis.call('HEXISTS', KEYS[1], 'erasing') == 1
    or (ARGV[15] == '1' and redis.call('EXISTS', KEYS[1]) == 0) then
  return {'gone', '', '', '', {}}
end

local seen = redis.call('HGET', KEYS[4], ARGV[3])
if seen then
  -- The queue tells the caller whether a first try died before routing (a sender's retry finishes it).
  local space = string.find(seen, ' ', 1, true)
  local seen_conversation = string.sub(seen, 1, space - 1)
  local seen_queue = redis.call('HGET', tag .. ':conv:' .. seen_conversation, 'queue') or ''
  return {'duplicate', seen_conversation, string.sub(seen, space + 1), seen_queue,
    redis.call('HGETALL', tag .. ':conv:' .. seen_conversation)}
end

local now = tonumber(ARGV[6])
local rating = ARGV[13]
local rated_count = tonumber(ARGV[16])
local at = 17 + rated_count          -- the number of identity keys
local n = tonumber(ARGV[at])
local first_identity = ARGV[at + 1]
local facts_at = at + n + 1          -- the number of conversation fact values
local f = tonumber(ARGV[facts_at])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[2], 'name', ARGV[9], 'created_at', now, 'attributes', '{}')
elseif ARGV[9] ~= '' and (redis.call('HGET', KEYS[1], 'name') or '') == '' then
  redis.call('HSET', KEYS[1], 'name', ARGV[9])
end

for i = at + 1, at + n do
  redis.call('SADD', KEYS[2], ARGV[i])
end

local outcome = nil
local conversation = redis.call('HGET', KEYS[1], 'live')
local conversation_key = nil
if conversation then
  conversation_key = tag .. ':conv:' .. conversation
  local status = redis.call('HGET', conversation_key, 'status')
  if status == 'open' or status == 'pending' then
    outcome = 'appended'
  elseif status == 'resolved' and rating ~= ''
      and (tonumber(redis.call('HGET', conversation_key, 'csat_until') or '') or 0) >= now
      and not redis.call('HGET', conversation_key, 'csat_rating') then
    outcome = 'rated'
  elseif status == 'resolved' then
    local resolved_at = tonumber(redis.call('HGET', conversation_key, 'resolved_at') or '0') or 0
    -- Within the window, or past it when the customer answered that very thread.
    if now - resolved_at <= tonumber(ARGV[7]) or ARGV[12] == conversation then
      outcome = 'reopened'
      redis.call('HSET', conversation_key, 'resolved_at', '')
      redis.call('HINCRBY', conversation_key, 'reopen_count', 1)
      -- Reopened: a later number is a message again, not an answer to the old survey.
      redis.call('HDEL', conversation_key, 'csat_until')
    end
  end
end

if not outcome then
  outcome = 'opened'
  conversation = ARGV[4]
  conversation_key = tag .. ':conv:' .. conversation
  redis.call('HSET', conversation_key,
    'id', conversation, 'customer_id', ARGV[2], 'status', 'open', 'queue', '',
    'tier', 1, 'priority', 'normal', 'tags', '[]', 'created_at', now,
    'message_count', 0, 'reopen_count', 0, 'subject', ARGV[11])
  redis.call('RPUSH', KEYS[3], conversation)
  redis.call('HSET', KEYS[1], 'live', conversation)
end

local facts = {}
for i = facts_at + 1, facts_at + f do
  facts[#facts + 1] = ARGV[i]
end
local fields = {}
for i = facts_at + f + 1, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
if outcome == 'rated' then
  -- Marked as the survey's answer: the SLA clocks never count it as a customer's request.
  fields[#fields + 1] = 'kind'
  fields[#fields + 1] = 'csat_answer'
end
redis.call('XADD', tag .. ':msgs:' .. conversation, '*', unpack(fields))

if outcome == 'rated' then
  local entry = {}
  for i = 17, 16 + rated_count do
    entry[#entry + 1] = ARGV[i]
  end
  redis.call('XADD', tag .. ':msgs:' .. conversation, '*', unpack(entry))
  -- The conversation stays resolved and its SLA clocks untouched; only where to reach the customer moves.
  redis.call('HSET', conversation_key, 'updated_at', now, 'address:' .. ARGV[10], first_identity,
    'csat_rating', rating, 'csat_comment', ARGV[14], 'csat_rated_at', now, 'csat_message', ARGV[5])
else
  -- The customer wrote: the conversation waits on an agent again.
  -- Remember the address per channel: replies go back where the customer wrote from.
  redis.call('HSET', conversation_key, 'status', 'open', 'updated_at', now,
    'last_inbound_at', now, 'last_inbound_channel', ARGV[10], 'address:' .. ARGV[10], first_identity)
end
if f > 0 then
  redis.call('HSET', conversation_key, unpack(facts))
end
redis.call('HINCRBY', conversation_key, 'message_count', 1)
-- A new version for the backlog index: the caller syncs it from the hash as this leaves it.
redis.call('HINCRBY', conversation_key, 'index_version', 1)
redis.call('HINCRBY', KEYS[1], 'message_count', 1)

-- The first answer to a proactive message (scripts/open_outbound.lua): routed like a first message.
local route_now = redis.call('HDEL', conversation_key, 'route_on_answer') == 1

redis.call('HSET', KEYS[4], ARGV[3], conversation .. ' ' .. ARGV[5])
redis.call('ZADD', KEYS[5], now, ARGV[3])

-- Forget markers past the retention, a bounded number per call.
local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - tonumber(ARGV[8]), 'LIMIT', 0, 50)
if #expired > 0 then
  redis.call('HDEL', KEYS[4], unpack(expired))
  redis.call('ZREM', KEYS[5], unpack(expired))
end

return {outcome, conversation, ARGV[5], route_now and '' or (redis.call('HGET', conversation_key, 'queue') or ''),
  redis.call('HGETALL', conversation_key)}
