-- One page of a backlog listing: the merge of some buckets' sorted sets, in
-- (score, conversation id) order, after a cursor (conversations/index.py).
--
-- KEYS: the buckets' sorted sets (one order; all share the hash tag {ix})
-- ARGV: 1 how many to return, 2 "1" if there is a cursor, 3 its score, 4 its conversation id
-- Returns id, score, id, score, ... (at most ARGV[1] pairs).

local want = tonumber(ARGV[1])
local has_cursor = ARGV[2] == '1'
local score, member = ARGV[3], ARGV[4]

-- The first rank after (score, member) in one sorted set. Equal scores are kept
-- in byte order of the member; ids are lower-case base32, so Lua's comparison agrees.
local function start_of(key)
  if not has_cursor then
    return 0
  end
  local at = redis.call('ZSCORE', key, member)
  if at and tonumber(at) == tonumber(score) then
    return redis.call('ZRANK', key, member) + 1
  end
  local lo = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  local hi = lo + redis.call('ZCOUNT', key, score, score)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local probe = redis.call('ZRANGE', key, mid, mid)[1]
    if probe > member then
      hi = mid
    else
      lo = mid + 1
    end
  end
  return lo
end

local items = {}
for _, key in ipairs(KEYS) do
  local from = start_of(key)
  local found = redis.call('ZRANGE', key, from, from + want - 1, 'WITHSCORES')
  for i = 1, #found, 2 do
    items[#items + 1] = {found[i], tonumber(found[i + 1]), found[i + 1]}
  end
end
table.sort(items, function(a, b)
  if a[2] ~= b[2] then
    return a[2] < b[2]
  end
  return a[1] < b[1]
end)
local result = {}
for i = 1, math.min(want, #items) do
  result[#result + 1] = items[i][1]
  result[#result + 1] = items[i][3]
end
return result
