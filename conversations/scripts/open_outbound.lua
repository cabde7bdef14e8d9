-- Open (or continue) a customer's conversation for a proactive message, atomically, in the customer's slot.
--
-- The customer is created if the identity was just claimed for a new one. A live conversation
-- (open or pending) is continued; otherwise a new one opens, waiting on the customer (pending),
-- in the given queue, with `route_on_answer` set: the customer's answer is routed by the rules
-- like a first message (scripts/ingest.lua clears the flag). A resolved conversation is left
-- as history: a notice is a new subject.
--
-- KEYS: 1 customer hash, 2 identities set, 3 conversations list
-- ARGV: 1 key tag, 2 customer id, 3 id for a new conversation, 4 now (ms), 5 queue,
--       6 channel, 7 identity key the message goes to, 8 subject, 9 author
-- Returns {outcome, conversation id}: outcome is opened or continued, or {"moved", customer id}
-- when the customer was merged into another one (the caller retries there).

local tag = ARGV[1]
local merged = redis.call('HGET', KEYS[1], 'merged_into')
if merged then
  return {'moved', merged}
end
local now = tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[2], 'name', '', 'created_at', now, 'attributes', '{}')
end
redis.call('SADD', KEYS[2], ARGV[7])

local live = redis.call('HGET', KEYS[1], 'live')
if live then
  local key = tag .. ':conv:' .. live
  local status = redis.call('HGET', key, 'status')
  if status == 'open' or status == 'pending' then
    redis.call('HSET', key, 'address:' .. ARGV[6], ARGV[7])
    return {'continued', live}
  end
end

local conversation = ARGV[3]
redis.call('HSET', tag .. ':conv:' .. conversation,
  'id', conversation, 'customer_id', ARGV[2], 'status', 'pending', 'queue', ARGV[5],
  'tier', 1, 'priority', 'normal', 'tags', '[]', 'created_at', now, 'updated_at', now,
  'message_count', 0, 'reopen_count', 0, 'subject', ARGV[8], 'address:' .. ARGV[6], ARGV[7],
  'proactive_by', ARGV[9], 'route_on_answer', '1')
redis.call('RPUSH', KEYS[3], conversation)
redis.call('HSET', KEYS[1], 'live', conversation)
return {'opened', conversation}
