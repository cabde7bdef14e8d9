-- Put one conversation where it belongs in the backlog indexes (conversations/index.py).
--
-- Every index key shares the hash tag {ix}, so this is one atomic step on
-- Redis Cluster too. A sync carries the conversation's version (index_version,
-- bumped with every change of its hash): a sync older than what the index
-- holds does nothing, so concurrent changes cannot leave an older state behind,
-- whatever order their syncs arrive in. An equal version is applied again
-- (idempotent), which is how a rebuild repairs a damaged index.
--
-- KEYS: 1 state hash (conversation -> "version|bucket"), 2 buckets hash
--       (bucket id -> bucket JSON), 3 intents zset
-- ARGV: 1 key prefix ("gw:{ix}"), 2 conversation id, 3 version, 4 bucket id
--       ("" = the conversation is gone: remove it), 5 bucket JSON,
--       6 activity score, 7 urgency score ("" = none), 8 intent member to
--       clear ("" = none)
-- Returns 1 if written, 0 if the index already holds a newer version.

local prefix, conversation, version = ARGV[1], ARGV[2], tonumber(ARGV[3])
local bucket = ARGV[4]
local result = 1

local function drop_if_empty(id)
  if redis.call('EXISTS', prefix .. ':activity:' .. id) == 0 and redis.call('EXISTS', prefix .. ':urgency:' .. id) == 0 then
    redis.call('HDEL', KEYS[2], id)
  end
end

local held = redis.call('HGET', KEYS[1], conversation)
local old_bucket = nil
if held then
  local bar = string.find(held, '|', 1, true)
  local held_version = tonumber(string.sub(held, 1, bar - 1))
  old_bucket = string.sub(held, bar + 1)
  if held_version > version then
    result = 0
  end
end

if result == 1 then
  if old_bucket and old_bucket ~= bucket then
    redis.call('ZREM', prefix .. ':activity:' .. old_bucket, conversation)
    redis.call('ZREM', prefix .. ':urgency:' .. old_bucket, conversation)
    drop_if_empty(old_bucket)
  end
  if bucket == '' then
    redis.call('HDEL', KEYS[1], conversation)
  else
    redis.call('HSET', KEYS[2], bucket, ARGV[5])
    redis.call('ZADD', prefix .. ':activity:' .. bucket, ARGV[6], conversation)
    if ARGV[7] ~= '' then
      redis.call('ZADD', prefix .. ':urgency:' .. bucket, ARGV[7], conversation)
    else
      redis.call('ZREM', prefix .. ':urgency:' .. bucket, conversation)
      drop_if_empty(bucket)
    end
    redis.call('HSET', KEYS[1], conversation, ARGV[3] .. '|' .. bucket)
  end
end

if ARGV[8] ~= '' then
  redis.call('ZREM', KEYS[3], ARGV[8])
end
return result
