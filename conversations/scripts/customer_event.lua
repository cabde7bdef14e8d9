-- Record something a customer did that is not a support request (an SMS
-- STOP, START or HELP keyword), atomically, inside one customer's slot.
--
-- Dedupe on the provider's message id (the same markers as ingest), create
-- the customer if new, and append the event to the customer's latest
-- conversation when there is one. Unlike ingest it never opens, reopens or
-- touches a conversation's fields: status, activity time, last inbound
-- message and counters stay as they were, so no routing and no SLA clock.
--
-- KEYS: 1 customer hash, 2 identities set, 3 seen hash, 4 seen_at zset
-- ARGV: 1 key tag ("gw:{c:ID}"), 2 customer id, 3 dedupe key, 4 now (ms),
--       5 customer name, 6 identity key, 7 message id,
--       then the event's stream field/value pairs.
-- Returns {outcome, conversation id ("" when the customer has none), message id};
-- outcome is recorded or duplicate, or {"moved", survivor id, ""} when the
-- customer was merged into another one (the caller retries there).

local merged = redis.call('HGET', KEYS[1], 'merged_into')
if merged then
  return {'moved', merged, ''}
end

local seen = redis.call('HGET', KEYS[3], ARGV[3])
if seen then
  local space = string.find(seen, ' ', 1, true)
  return {'duplicate', string.sub(seen, 1, space - 1), string.sub(seen, space + 1)}
end

local now = tonumber(ARGV[4])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'id', ARGV[2], 'name', ARGV[5], 'created_at', now, 'attributes', '{}')
end
redis.call('SADD', KEYS[2], ARGV[6])

local conversation = redis.call('HGET', KEYS[1], 'live') or ''
if conversation ~= '' then
  local fields = {}
  for i = 8, #ARGV do
    fields[#fields + 1] = ARGV[i]
  end
  redis.call('XADD', ARGV[1] .. ':msgs:' .. conversation, '*', unpack(fields))
end

redis.call('HSET', KEYS[3], ARGV[3], conversation .. ' ' .. ARGV[7])
redis.call('ZADD', KEYS[4], now, ARGV[3])
return {'recorded', conversation, ARGV[7]}
