"""A pace per channel shared by every worker: at most N messages a second start, whoever starts them.

One Redis key per channel holds the next free slot (ms). Taking a slot is one
script call: the slot is ``max(next, now)``, and it is only taken (``next``
moves one interval on) if it is within ``max_wait`` of now. A job that gets no
slot stops and schedules itself for when one frees up, instead of holding a
worker while it waits.
"""

from __future__ import annotations

from redis.asyncio import Redis

from workers import keys
from conversations.models import Channel

TAKE = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
if slot - now > tonumber(ARGV[3]) then
  return now - slot - 1
end
redis.call('SET', KEYS[1], slot + interval, 'PX', math.max(interval * 2, 1000))
return slot - now
"""


def pace_key(channel: Channel) -> str:
    return keys.proactive_pace(channel.value)


async def take_slot(redis: Redis, channel: Channel, per_second: float, now_ms: int, max_wait_ms: int) -> int:
    """Milliseconds to wait before sending (a slot is taken), or -(ms until one is free) - 1 (none taken)."""
    interval = max(1, round(1000 / per_second))
    result = await redis.eval(TAKE, 1, pace_key(channel), now_ms, interval, max_wait_ms)
    return int(result)
