"""Server frames of the web chat protocol (``welcome``, ``ack``, ``message``, ``error``, ``pong``). Pure.

Client frames are parsed in ``inbound.py``; the whole protocol is in docs/WEBCHAT.md.
"""

from __future__ import annotations

import re
from typing import Any

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def error_frame(code: str, detail: str, *, client_id: str | None = None) -> dict[str, Any]:
    """An ``error`` frame; ``client_id`` names the message it refused, when it refused one."""
    frame = {"type": "error", "code": code, "detail": detail}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame


def visible_message(message: dict[str, Any]) -> dict[str, Any]:
    """What a visitor sees of a message: never notes, events or internal metadata."""
    return {key: message.get(key) for key in ("id", "direction", "author", "text", "created_at")}


def looks_like_email(value: str) -> bool:
    return bool(EMAIL.match(value))
