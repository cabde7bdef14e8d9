"""Read a bounce: which of our messages failed, for whom, and why. Pure.

Handles RFC 3464 delivery status notifications (``multipart/report``) and the
older plain-text bounces, which at best quote the original headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser

from channels.email.threads import message_ids

MESSAGE_ID_LINE = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Bounce:
    original_message_ids: tuple[str, ...]  # newest guess first
    recipient: str | None = None
    action: str | None = None  # failed, delayed, delivered, relayed, expanded
    status: str | None = None  # enhanced status code, e.g. 5.1.1
    diagnostic: str | None = None

    @property
    def failed(self) -> bool:
        """A delay warning ("still trying") is not a failure; a bounce without a report is."""
        if self.action:
            return self.action == "failed"
        return not (self.status or "").startswith(("2", "4"))

    def describe(self) -> str:
        parts = ["bounced"]
        if self.recipient:
            parts.append(f"for {self.recipient}")
        if self.status:
            parts.append(f"({self.status})")
        text = " ".join(parts)
        return f"{text}: {self.diagnostic}" if self.diagnostic else text


def _field(block: Message, name: str) -> str | None:
    try:
        value = block.get(name)
    except Exception:
        return None
    return " ".join(str(value).split()) if value else None


def _status_blocks(msg: Message) -> list[Message]:
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            return [block for block in payload if isinstance(block, Message)]
        if isinstance(payload, str):  # some MTAs send it base64 or as a flat string
            text = payload
            try:
                decoded = part.get_payload(decode=True)
                text = decoded.decode("utf-8", "replace") if isinstance(decoded, bytes) and decoded else payload
            except Exception:
                pass
            return [HeaderParser().parsestr(chunk) for chunk in re.split(r"\n\s*\n", text) if chunk.strip()]
    return []


def _original_ids(msg: Message) -> list[str]:
    found: list[str] = []
    for part in msg.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                found += message_ids(_field(inner, "Message-ID") or "")
        elif content_type == "text/rfc822-headers":
            try:
                headers = HeaderParser().parsestr(part.get_content())  # type: ignore[attr-defined]
            except Exception:
                continue
            found += message_ids(_field(headers, "Message-ID") or "")
    if not found:
        # Plain-text bounces quote the original headers in the body.
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                try:
                    found += [m.strip("<>") for m in MESSAGE_ID_LINE.findall(part.get_content())]  # type: ignore[attr-defined]
                except Exception:
                    continue
    # Some MTAs thread their bounce to the message it is about.
    found += message_ids(_field(msg, "In-Reply-To") or "")
    found += list(reversed(message_ids(_field(msg, "References") or "")))
    return list(dict.fromkeys(found))


def read_bounce(msg: Message) -> Bounce:
    blocks = _status_blocks(msg)
    recipient = action = status = diagnostic = None
    for block in blocks[1:] or blocks:  # block 0 is per-message; the rest are per recipient
        action = (_field(block, "Action") or "").lower() or action
        status = _field(block, "Status") or status
        diagnostic = _field(block, "Diagnostic-Code") or diagnostic
        final = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
        if final:
            recipient = final.split(";", 1)[-1].strip()
        if action == "failed":
            break
    if diagnostic and ";" in diagnostic:
        diagnostic = diagnostic.split(";", 1)[1].strip()  # drop the "smtp;" type
    return Bounce(tuple(_original_ids(msg)), recipient, action, status, diagnostic)
