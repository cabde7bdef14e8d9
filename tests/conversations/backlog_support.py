"""The truth the backlog index must equal, computed from the conversation hashes themselves."""

from __future__ import annotations

from typing import Any

from conversations import keys, redisio
from conversations.backlog import Bucket, Filter, Order, entry_of
from conversations.index import BacklogIndex


async def conversation_hashes(redis: Any) -> dict[str, dict[str, str]]:
    """Every conversation where its locator says it lives (a merge leaves no other copy behind)."""
    found: dict[str, dict[str, str]] = {}
    async for key in redis.scan_iter(match=f"{keys.PREFIX}:{{c:*}}:conv:*", count=1000, _type="hash"):
        fields = redisio.text_hash(await redis.hgetall(key))
        owner = await redis.get(keys.conversation_locator(fields["id"]))
        if owner == fields["customer_id"]:
            found[fields["id"]] = fields
    return found


async def assert_index_exact(redis: Any) -> int:
    """Each conversation is in its bucket's sets with its scores, and nothing else is anywhere."""
    truth = {conversation_id: entry_of(fields) for conversation_id, fields in (await conversation_hashes(redis)).items()}
    expected: dict[str, dict[str, int]] = {}
    for entry in truth.values():
        expected.setdefault(keys.index_set("activity", entry.bucket.id), {})[entry.conversation_id] = entry.activity
        if entry.urgency is not None:
            expected.setdefault(keys.index_set("urgency", entry.bucket.id), {})[entry.conversation_id] = entry.urgency
    actual: dict[str, dict[str, int]] = {}
    for order in Order:
        async for name in redis.scan_iter(match=keys.index_set(order.value, "*"), count=1000):
            actual[name] = {m: int(s) for m, s in redisio.scored(await redis.zrange(name, 0, -1, withscores=True))}
    assert actual == expected
    buckets = {bucket.id for bucket in await BacklogIndex(redis).buckets()}
    assert buckets == {entry.bucket.id for entry in truth.values()}
    return len(truth)


async def expected_order(redis: Any, wanted: Filter, order: Order) -> list[str]:
    """The listing computed the slow way: every conversation, filtered and sorted."""
    entries = [entry_of(fields) for fields in (await conversation_hashes(redis)).values()]
    chosen = [e for e in entries if wanted.matches(e.bucket, order)]
    score = (lambda e: e.activity) if order == Order.ACTIVITY else (lambda e: e.urgency)
    return [e.conversation_id for e in sorted(chosen, key=lambda e: (score(e), e.conversation_id))]


async def every_page(index: BacklogIndex, wanted: Filter, order: Order, *, limit: int) -> list[str]:
    pages: list[str] = []
    cursor = None
    while True:
        page = await index.page(wanted, order, limit=limit, cursor=cursor)
        pages += [conversation_id for conversation_id, _ in page.items]
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def bucket_of(fields: dict[str, str]) -> Bucket:
    return entry_of(fields).bucket
