"""Client frames of the web chat protocol (``hello``, ``message``, ``delivered``, ``ping``) and the
``InboundMessage`` a visitor's message becomes. Pure, no I/O.

The server's frames are built in ``protocol.py``; the whole protocol is in docs/WEBCHAT.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversations.messages import InboundMessage
from conversations.models import Channel, Identity

MAX_CLIENT_ID = 100
MAX_NAME = 200
MAX_DELIVERED = 500  # a welcome's worth of agent messages, acknowledged in one frame


class FrameError(ValueError):
    """A frame the server refuses; ``code`` goes into the error frame."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Hello:
    visitor_token: str | None
    identifier: str | None
    identifier_hash: str | None
    name: str | None
    email: str | None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    client_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Delivered:
    """The widget shows an agent's message: only this makes a web chat reply ``delivered``."""

    message_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Frame = Hello | ChatMessage | Delivered | Ping


def _valid_text(name: str, value: str) -> str:
    """Refuse what cannot be stored: a lone UTF-16 surrogate (``"\\ud800"`` in JSON) is no Unicode text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FrameError("bad_frame", f"{name} is not valid Unicode text (a lone surrogate)") from None
    return value


def _optional_string(data: dict[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FrameError("bad_frame", f"{name} must be a string")
    if len(value) > limit:
        raise FrameError("bad_frame", f"{name} is longer than {limit} characters")
    return _valid_text(name, value)


def parse_frame(raw: str, *, max_text: int) -> Frame:
    try:
        data = json.loads(raw)
    except ValueError:
        raise FrameError("bad_frame", "a frame must be a JSON object") from None
    except RecursionError:  # "[[[[…" thousands deep: json's parser recurses per level
        raise FrameError("bad_frame", "a frame must be a flat JSON object; this one nests too deep") from None
    if not isinstance(data, dict):
        raise FrameError("bad_frame", "a frame must be a JSON object")
    kind = data.get("type")
    if kind == "hello":
        return Hello(
            visitor_token=_optional_string(data, "visitor_token", 200),
            identifier=_optional_string(data, "identifier", 320),
            identifier_hash=_optional_string(data, "identifier_hash", 128),
            name=_optional_string(data, "name", MAX_NAME),
            email=_optional_string(data, "email", 320),
        )
    if kind == "message":
        client_id = _optional_string(data, "client_id", MAX_CLIENT_ID)
        if not client_id:
            raise FrameError("bad_frame", "message needs a client_id (unique per message, reused on resend)")
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise FrameError("bad_frame", "message needs a non-empty text")
        if len(text) > max_text:
            raise FrameError("message_too_long", f"text is longer than {max_text} characters")
        return ChatMessage(client_id=client_id, text=_valid_text("text", text))
    if kind == "delivered":
        ids = data.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_DELIVERED:
            raise FrameError("bad_frame", f"delivered needs message_ids: a list of 1 to {MAX_DELIVERED} message ids")
        if not all(isinstance(i, str) and 0 < len(i) <= MAX_CLIENT_ID for i in ids):
            raise FrameError("bad_frame", "message_ids must be message ids (non-empty strings)")
        return Delivered(tuple(_valid_text("message_ids", i) for i in ids))
    if kind == "ping":
        return Ping()
    raise FrameError("unknown_type", f"unknown frame type {_shown(kind)}; expected hello, message, delivered or ping")


def _shown(kind: object) -> str:
    """The offending type in an error detail: short, and always encodable."""
    if not isinstance(kind, str):
        return f"of JSON type {type(kind).__name__}"
    return repr(kind[:40]).encode("utf-8", "backslashreplace").decode("utf-8")


def to_inbound(chat: ChatMessage, *, visitor_id: str, identity: Identity, linked: tuple[Identity, ...],
               name: str | None, received_at: datetime) -> InboundMessage:
    """A visitor's chat message; its client id, unique per visitor, is the dedupe key."""
    return InboundMessage(
        channel=Channel.WEBCHAT, identity=identity, provider_id=f"{visitor_id}:{chat.client_id}",
        text=chat.text, received_at=received_at, linked=linked, name=name, meta={"visitor": visitor_id},
    )
