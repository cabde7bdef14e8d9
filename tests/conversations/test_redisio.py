"""Typed reading of Redis replies: text from a decoding client, a clear error from a raw one."""

from __future__ import annotations

import fakeredis
import pytest

from conversations import redisio


async def test_replies_of_a_decoding_client_read_as_text():
    redis = fakeredis.FakeAsyncRedis(decode_responses=True)
    await redis.hset("h", mapping=redisio.fields({"a": "1", "b": "zwei"}))
    await redis.zadd("z", {"x": 2, "y": 1})
    await redis.xadd("s", redisio.fields({"k": "v"}))
    assert redisio.text_hash(await redis.hgetall("h")) == {"a": "1", "b": "zwei"}
    assert redisio.members(await redis.zrange("z", 0, -1)) == ["y", "x"]
    assert redisio.scored(await redis.zrange("z", 0, -1, withscores=True)) == [("y", 1.0), ("x", 2.0)]
    [(entry_id, values)] = redisio.stream_entries(await redis.xrange("s"))
    assert values == {"k": "v"} and "-" in entry_id
    assert redisio.optional_text(await redis.get("missing")) is None
    await redisio.aclose(redis)


async def test_a_client_without_decoding_is_named_as_the_problem():
    redis = fakeredis.FakeAsyncRedis()
    await redis.set("k", "v")
    with pytest.raises(redisio.NotDecoded, match="decode_responses"):
        redisio.text(await redis.get("k"))
