"""Signed attachment URLs, pure: ``/attachments/<id>?exp=<epoch s>&sig=<hmac>``.

The signature covers the id and the expiry, so neither can be changed; a URL
opens exactly one file until it expires. The key is the gateway's secret key,
used with its own label so a signature made for anything else never verifies here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

LABEL = b"attachment-url\x00"


def signature(secret_key: bytes, attachment_id: str, expires: int) -> str:
    digest = hmac.new(secret_key, LABEL + f"{attachment_id}\x00{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed_url(base_url: str, secret_key: bytes, attachment_id: str, expires: int) -> str:
    query = urlencode({"exp": expires, "sig": signature(secret_key, attachment_id, expires)})
    return f"{base_url}/attachments/{attachment_id}?{query}"


def verify(secret_key: bytes, attachment_id: str, expires: str, sig: str, now_seconds: int) -> bool:
    """True only for our signature of this id and expiry, before the expiry."""
    # ASCII digits only: str.isdigit() is also true of "²", which int() refuses (a 500 for anyone).
    if not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
        return False
    if int(expires) <= now_seconds:
        return False
    return hmac.compare_digest(signature(secret_key, attachment_id, int(expires)).encode(), sig.encode())
