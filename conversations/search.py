"""Customer search by name, email, phone or Slack user: a prefix index of terms.

One sorted set, every score 0, members ``<term>\\x00<customer id>``, so a
prefix is a ``ZRANGEBYLEX`` range. Terms of a customer: the name and each of
its words (case-folded), and each identity's address (an email address, an
E.164 number and its digits, a Slack user id and ``team:user``, a signed-in
web chat user id). Terms are added with the facts (ingest, a name change, a
linked identity) and never hide anyone: a term of a merged customer leads to
the customer it was merged into. ``gateway index rebuild`` adds the terms of
every stored customer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from redis.asyncio import Redis

from conversations import keys, redisio
from conversations.errors import InvalidRequest

SEPARATOR = "\x00"
TOP = "\U0010ffff"  # the last code point: "<prefix><TOP>" bounds every term starting with the prefix
MAX_TERM = 200
MIN_QUERY = 2
_WORDS = re.compile(r"[\w@+.'-]+")


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()[:MAX_TERM]


def name_terms(name: str) -> set[str]:
    folded = fold(name)
    if not folded:
        return set()
    return {folded, *(word for word in _WORDS.findall(folded) if len(word) >= MIN_QUERY)}


def identity_terms(identity_key: str) -> set[str]:
    """The ways someone would type this identity: ``email:a@b.c``, ``sms:+49…``, ``slack:T:U``."""
    channel, _, address = identity_key.partition(":")
    address = fold(address)
    if not address:
        return set()
    if channel == "sms":
        return {address, address.lstrip("+")}
    if channel == "slack":
        team, _, user = address.rpartition(":")
        return {address, user} if team else {address}
    if channel == "webchat":
        kind, _, ident = address.partition(":")
        return {ident} if kind == "user" and ident else set()
    return {address}


def query_terms(query: str, phone: str | None) -> list[str]:
    """What to look up for a query: the folded text, and a phone number's E.164 form and digits."""
    folded = fold(query)
    if len(folded) < MIN_QUERY:
        raise InvalidRequest(f"q must have at least {MIN_QUERY} characters")
    terms = [folded]
    if phone:
        terms += [phone.casefold(), phone.lstrip("+")]
    return list(dict.fromkeys(terms))


def term_members(customer_id: str, *, name: str = "", identities: Iterable[str] = ()) -> dict[str, int]:
    """The sorted-set members (score 0) for a customer's name and identities."""
    terms = name_terms(name)
    for identity_key in identities:
        terms |= identity_terms(identity_key)
    return {f"{term}{SEPARATOR}{customer_id}": 0 for term in terms}


class CustomerSearch:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, customer_id: str, *, name: str = "", identities: Iterable[str] = ()) -> None:
        members = term_members(customer_id, name=name, identities=identities)
        if members:
            await self.redis.zadd(keys.SEARCH_TERMS, members)

    async def rename(self, customer_id: str, old: str, new: str) -> None:
        stale = name_terms(old) - name_terms(new)
        if stale:
            await self.redis.zrem(keys.SEARCH_TERMS, *(f"{term}{SEPARATOR}{customer_id}" for term in stale))
        await self.add(customer_id, name=new)

    async def find(self, terms: list[str], *, limit: int) -> list[str]:
        """Customer ids with a term starting with one of ``terms``: exact matches first, then by term."""
        exact: list[str] = []
        prefixed: list[str] = []
        for term in terms:
            members = redisio.texts(await self.redis.zrangebylex(
                keys.SEARCH_TERMS, f"[{term}", f"[{term}{TOP}", start=0, num=limit * 4))
            for member in members:
                found, _, customer_id = member.rpartition(SEPARATOR)
                (exact if found == term else prefixed).append(customer_id)
        return list(dict.fromkeys(exact + prefixed))

    async def rebuild(self) -> int:
        """Add the terms of every stored customer (``gateway index rebuild``); returns how many."""
        count = 0
        async for key in self.redis.scan_iter(match=keys.EVERY_CUSTOMER, count=1000, _type="hash"):
            fields = redisio.text_hash(await self.redis.hgetall(key))
            if not fields.get("id"):
                continue
            identities = redisio.texts(await self.redis.smembers(keys.CustomerKeys(fields["id"]).identities))
            await self.add(fields["id"], name=fields.get("name", ""), identities=identities)
            count += 1
        return count
