"""The ids a log line is about: the conversation and message a unit of work handles.

A job, a webhook or a timer binds them once (``with about(conversation_id=…)``)
and every line logged inside carries them, whatever module logs it; the
gateway's log formatter reads :func:`current` (``GATEWAY_LOG_FORMAT=json``
gives them their own fields). A contextvar, so concurrent tasks never see
each other's ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

FIELDS = ("conversation_id", "message_id", "customer_id")

_EMPTY: Mapping[str, str] = MappingProxyType({})
_ids: ContextVar[Mapping[str, str]] = ContextVar("gateway_log_ids", default=_EMPTY)


@contextmanager
def about(**ids: str | None) -> Iterator[None]:
    """Add ids (``conversation_id``, ``message_id``, ``customer_id``) to every line logged inside."""
    token = _ids.set(MappingProxyType({**_ids.get(), **{k: str(v) for k, v in ids.items() if v}}))
    try:
        yield
    finally:
        _ids.reset(token)


def current() -> Mapping[str, str]:
    return _ids.get()
