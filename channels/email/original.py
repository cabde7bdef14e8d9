"""The original of a mail, kept beside the customer's new words: its headers and every part. Pure.

The message text holds only what the customer wrote now; agents and admins
can still read the mail as it arrived (``GET /api/conversations/{id}/messages/
{message}/original``, the Slack "Show full email" button). Text parts are kept
decoded, attachments as name, type and size (their bytes are in the attachment store),
all bounded so one huge mail cannot fill Redis.
"""

from __future__ import annotations

import json
from email.message import Message
from typing import Any

from channels.email import body
from conversations.messages import FULL_TEXT, SIGNATURE
from conversations.models import Message as StoredMessage

ORIGINAL_KEY = "original_parts"  # the message meta key holding the JSON below
FORWARDED_KEY = "forwarded"  # JSON list of the forwarded mails' sender, date, subject
MAX_HEADER_CHARS = 16_000
MAX_PART_CHARS = 100_000
MAX_TOTAL_CHARS = 250_000
MAX_PARTS = 50


def _parts(msg: Message) -> list[Message]:
    """The leaves in MIME order; an attached mail (message/rfc822) is one leaf."""
    if msg.get_content_type() == "message/rfc822" or not msg.is_multipart():
        return [msg]
    payload = msg.get_payload()
    return [leaf for sub in payload if isinstance(sub, Message) for leaf in _parts(sub)] if isinstance(
        payload, list) else []


def _size(part: Message) -> int | None:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return None
    return len(payload) if isinstance(payload, bytes) else None


def header_block(raw: bytes) -> str:
    """The mail's header section as received (up to the first blank line), bounded."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return head.decode("utf-8", "replace")[:MAX_HEADER_CHARS]


def original_parts(msg: Message, raw: bytes) -> str:
    """JSON ``{"headers": str, "parts": [{"content_type", "filename", "size", "text"?, "truncated"?}]}``."""
    parts: list[dict[str, object]] = []
    budget = MAX_TOTAL_CHARS
    for part in _parts(msg)[:MAX_PARTS]:
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        entry: dict[str, object] = {"content_type": part.get_content_type(), "filename": filename,
                                    "size": _size(part)}
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        if part.get_content_maintype() == "text" and disposition != "attachment" and budget > 0:
            text, _ = body.part_text(part)
            limit = min(MAX_PART_CHARS, budget)
            entry["text"] = text[:limit]
            if len(text) > limit:
                entry["truncated"] = True
            budget -= min(len(text), limit)
        parts.append(entry)
    return json.dumps({"headers": header_block(raw), "parts": parts}, ensure_ascii=False)


def _json(value: str | None, default: Any) -> Any:
    try:
        return json.loads(value) if value else default
    except ValueError:
        return default


def original_view(message: StoredMessage) -> dict[str, object]:
    """A stored message as it arrived: the whole text (quoted history included), what was split off, the parts.

    Any channel's message has a view; only mail has headers and parts.
    """
    meta = message.meta
    original = _json(meta.get(ORIGINAL_KEY), {})
    return {
        "conversation_id": message.conversation_id,
        "message_id": message.id,
        "channel": message.channel.value if message.channel else None,
        "subject": meta.get("subject"),
        "text": meta.get(FULL_TEXT) or message.text,
        "new_text": message.text,
        "signature": meta.get(SIGNATURE, ""),
        "forwarded": _json(meta.get(FORWARDED_KEY), []),
        "headers": original.get("headers", ""),
        "parts": original.get("parts", []),
    }
