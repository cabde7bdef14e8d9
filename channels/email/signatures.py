"""The signature below the customer's words: kept and shown collapsed, never one of their lines. Pure.

Three shapes count as signature, in this order of trust:

1. everything below the ``-- `` delimiter (RFC 3676), or a bare ``--`` above
   a short block of name/contact lines;
2. the footers apps append ("Sent from my iPhone", "Von meinem iPhone
   gesendet", "Get Outlook for Android", in every language);
3. contact lines (phone, web address, email) below a closing and a name
   ("Kind regards" / "Anna Novak" / "+386 1 234 5678"): the closing and name
   are the customer's words and stay in the text.

A line of prose (a sentence ending in ".", "?" or "!") is never taken as a
contact line, and the message text is never left empty.
"""

from __future__ import annotations

import re

from channels.email import shapes
from channels.email.signature_words import CLOSINGS, DEVICE_FOOTERS

_DEVICE = r"[\w.'’&+-]+(?:\s[\w.'’&+-]+){0,3}"
_FOOTER = re.compile("|".join(f"(?:{p})" for p in DEVICE_FOOTERS).replace("{device}", _DEVICE), re.IGNORECASE)
_PHONE = re.compile(r"(?:\+|\b0)\d[\d\s()/.-]{6,}\d|\b(?:tel|phone|mob|fax|t|m)\.?\s*:?\s*\+?\d[\d\s()/.-]{5,}\d",
                    re.IGNORECASE)
_WEB = re.compile(r"https?://|\bwww\.|\b[\w-]+\.(?:com|net|org|de|fr|es|it|nl|pl|eu|io|co)\b", re.IGNORECASE)
_DELIMITERS = frozenset({"--", "—", "-- —"})
MAX_SIGNATURE_LINES = 12
MAX_FOOTER_WORDS = 12


_LINK = re.compile(r"\s*(?:<https?://[^>]*>|\(https?://[^)]*\)|\[https?://[^\]]*\])")


def _is_footer(text: str) -> bool:
    text = _LINK.sub("", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text))  # "Get Outlook for iOS<https://aka.ms/…>"
    return len(text.split()) <= MAX_FOOTER_WORDS and _FOOTER.fullmatch(text.rstrip(".!")) is not None


def _is_contact(text: str) -> bool:
    return bool(_PHONE.search(text) or _WEB.search(text) or shapes.ADDRESS.search(text) or " | " in text)


_POSTSCRIPT = re.compile(r"^(?:p\.?\s?s|pd|nb|n\.b)\b", re.IGNORECASE)


def _is_signature_line(text: str) -> bool:
    """Name, title, company, phone, address: short and not a sentence of the message.

    "P.S. my number is +44 20 7946 0000" has a phone number but is the customer's sentence.
    """
    if not text or _is_footer(text):
        return True
    if _POSTSCRIPT.match(text) or len(text.split()) > 8 or text.endswith(("?", "!", ":")):
        return False
    return _is_contact(text) or len(text) <= 60 and not text.endswith(".")


def _delimiter_start(raw: list[str], plain: list[str]) -> int | None:
    for index in range(len(plain) - 1, 0, -1):
        if raw[index].rstrip("\r") == "-- ":  # the RFC 3676 delimiter: whatever follows is signature
            return index
        if plain[index] in _DELIMITERS:
            below = [text for text in plain[index + 1:] if text]
            if below and len(below) <= 6 and all(_is_signature_line(text) for text in below):
                return index
    return None


def _footer_start(plain: list[str]) -> int | None:
    """The first of the footer lines closing the text ("Sent from my iPhone" and what the app adds below)."""
    start = None
    for index in range(len(plain) - 1, -1, -1):
        if not plain[index]:
            continue
        if _is_footer(plain[index]):
            start = index
            continue
        break
    return start


def _contact_start(plain: list[str]) -> int | None:
    """Contact lines below "closing" + "name" at the end of the text."""
    filled = [i for i, text in enumerate(plain) if text]
    for position, index in enumerate(filled[:-2]):
        if plain[index].rstrip(",.!").lower() not in CLOSINGS:
            continue
        name = plain[filled[position + 1]]
        below = filled[position + 2:]
        if len(name) > 40 or re.search(r"\d", name) or len(below) > MAX_SIGNATURE_LINES:
            continue
        texts = [plain[i] for i in below]
        if any(_is_contact(text) for text in texts) and all(_is_signature_line(text) for text in texts):
            return below[0]
    return None


def split_signature(text: str) -> tuple[str, str]:
    """(the text without its signature, the signature or "")."""
    raw = text.split("\n")
    plain = [shapes.clean(line) for line in raw]
    starts = [start for start in (_delimiter_start(raw, plain), _footer_start(plain), _contact_start(plain))
              if start is not None]
    for start in sorted(starts):
        body = "\n".join(raw[:start]).strip()
        if not body:
            continue
        lines = raw[start + 1:] if plain[start] in _DELIMITERS or raw[start].rstrip() == "--" else raw[start:]
        return body, "\n".join(line.rstrip() for line in lines).strip()
    return text.strip(), ""
