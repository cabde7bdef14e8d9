"""redis-py's async client at the types the gateway really uses: ``str`` in, ``str`` out.

Every async client the gateway makes passes ``decode_responses=True``
(``gateway/runtime.py``, ``gateway/app.py``, ``gateway/embedded.py``); only
RQ's synchronous client sees bytes. redis-py's annotations cannot know which
kind of client answers, so they say ``bytes | str``. The reply helpers check
each reply and hand it on with its real type; a ``bytes`` reply means a client
was made without ``decode_responses`` and fails loudly here rather than later.

The other way, ``fields`` hands a ``str`` mapping to ``hset`` / ``xadd``, whose
annotation (a dict keyed by the invariant union ``FieldT``) refuses
``dict[str, str]``. And redis-py leaves a few async methods we call
unannotated (``Pipeline.reset``, ``Pipeline.multi``, ``PubSub.aclose``); the
small Protocols at the end state the signatures we rely on, so those calls
stay type-checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from redis.typing import EncodableT, FieldT, StreamRangeResponse, ZSetRangeResponse


class NotDecoded(TypeError):
    """A reply was not ``str``: the async client was made without ``decode_responses=True``."""


def text(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    raise NotDecoded(f"Redis replied {type(value).__name__}, expected str: "
                     "the async client must be made with decode_responses=True")


def optional_text(value: bytes | str | None) -> str | None:
    """A reply that may be missing (``GET``, ``HGET`` of an absent key or field)."""
    return None if value is None else text(value)


def texts(values: Iterable[bytes | str]) -> list[str]:
    """A list reply (``LRANGE``, ``HVALS``), in order."""
    return [text(value) for value in values]


def text_set(values: Iterable[bytes | str]) -> set[str]:
    """A set reply (``SMEMBERS``)."""
    return {text(value) for value in values}


def text_hash(reply: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """A hash reply (``HGETALL``, a stream entry's fields)."""
    return {text(key): text(value) for key, value in reply.items()}


def members(values: ZSetRangeResponse) -> list[str]:
    """A sorted-set range read without scores: just the members, in order."""
    found: list[str] = []
    for value in values:
        if isinstance(value, (tuple, list)):
            raise TypeError("a sorted-set range with scores; read it with scored()")
        found.append(text(value))
    return found


def scored(values: ZSetRangeResponse) -> list[tuple[str, float]]:
    """A sorted-set range read ``withscores=True``: (member, score) pairs, in order."""
    found: list[tuple[str, float]] = []
    for value in values:
        if not isinstance(value, (tuple, list)):
            raise TypeError("a sorted-set range without scores; read it with members()")
        member, score = value  # a tuple on RESP2, a two-item list on RESP3
        found.append((text(member), float(score)))
    return found


def stream_entries(entries: StreamRangeResponse | None) -> list[tuple[str, dict[str, str]]]:
    """``XRANGE`` / ``XREVRANGE``: (entry id, fields) pairs, in the order Redis gave them."""
    found: list[tuple[str, dict[str, str]]] = []
    for entry_id, entry in entries or ():
        if entry_id is None or entry is None:  # only XCLAIM answers deleted entries like this
            raise TypeError("a stream range returned an entry without id or fields")
        found.append((text(entry_id), text_hash(entry)))
    return found


def fields(mapping: Mapping[str, EncodableT]) -> dict[FieldT, EncodableT]:
    """Hash or stream fields as ``hset(mapping=...)`` and ``xadd`` take them (a copy)."""
    return dict(mapping.items())


class _Transaction(Protocol):
    async def reset(self) -> None: ...

    def multi(self) -> None: ...


async def reset(pipe: _Transaction) -> None:
    """``await pipe.reset()``: drop the WATCH of an async ``Pipeline`` (unannotated in redis-py)."""
    await pipe.reset()


def multi(pipe: _Transaction) -> None:
    """``pipe.multi()``: start the transaction of a WATCHing async ``Pipeline`` (unannotated in redis-py)."""
    pipe.multi()


class _Closable(Protocol):
    async def aclose(self) -> None: ...


async def aclose(client: _Closable) -> None:
    """``await pubsub.aclose()`` of an async ``PubSub`` (unannotated in redis-py)."""
    await client.aclose()
