"""The web chat wire protocol: parse client frames, build server frames. Pure.

Client → server: ``hello``, ``message``, ``ping``. Server → client: ``welcome``,
``ack``, ``message``, ``error``, ``pong``. Documented in docs/WEBCHAT.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_CLIENT_ID = 100
MAX_NAME = 200
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
class Ping:
    pass


Frame = Hello | ChatMessage | Ping


def _optional_string(data: dict[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FrameError("bad_frame", f"{name} must be a string")
    if len(value) > limit:
        raise FrameError("bad_frame", f"{name} is longer than {limit} characters")
    return value


def parse_frame(raw: str, *, max_text: int) -> Frame:
    try:
        data = json.loads(raw)
    except ValueError:
        raise FrameError("bad_frame", "a frame must be a JSON object") from None
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
        return ChatMessage(client_id=client_id, text=text)
    if kind == "ping":
        return Ping()
    raise FrameError("unknown_type", f"unknown frame type {kind!r}; expected hello, message or ping")


def error_frame(code: str, detail: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "detail": detail}


def visible_message(message: dict[str, Any]) -> dict[str, Any]:
    """What a visitor sees of a message: never notes, events or internal metadata."""
    return {key: message.get(key) for key in ("id", "direction", "author", "text", "created_at")}


def looks_like_email(value: str) -> bool:
    return bool(EMAIL.match(value))
