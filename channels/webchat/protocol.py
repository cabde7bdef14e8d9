"""Server frames of the web chat protocol (``welcome``, ``ack``, ``message``, ``error``, ``pong``). Pure.

Client frames are parsed in ``inbound.py``; the whole protocol is in docs/WEBCHAT.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from conversations.ratings import QUESTION, QUESTION_META

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def error_frame(code: str, detail: str, *, client_id: str | None = None) -> dict[str, Any]:
    """An ``error`` frame; ``client_id`` names the message it refused, when it refused one."""
    frame = {"type": "error", "code": code, "detail": detail}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame


def visible_message(message: dict[str, Any], link: Callable[[str], str] | None = None) -> dict[str, Any]:
    """What a visitor sees of a message: never notes, events or internal metadata.

    Files: name, type, size and a link (its signed URL; ``link`` signs a stored file's id); a file
    that was not kept, or that nothing can link, is not shown. A satisfaction survey question
    carries ``"csat": true``: the widget shows it with 1-5 buttons.
    """
    visible = {key: message.get(key) for key in ("id", "direction", "author", "text", "created_at")}
    meta = message.get("meta")
    if message.get("csat") is True or (isinstance(meta, dict) and meta.get(QUESTION_META) == QUESTION):
        visible["csat"] = True
    files = []
    for attachment in message.get("attachments") or ():
        if not isinstance(attachment, dict):
            continue
        url = attachment.get("url") if attachment.get("url") and not attachment.get("id") else None
        if attachment.get("id") and link is not None:
            url = link(str(attachment["id"]))
        if url and str(url).startswith(("https://", "http://")) and not attachment.get("refused"):
            files.append({"name": attachment.get("name"), "content_type": attachment.get("content_type"),
                          "size": attachment.get("size"), "url": url})
    if files:
        visible["attachments"] = files
    return visible


def looks_like_email(value: str) -> bool:
    return bool(EMAIL.match(value))
