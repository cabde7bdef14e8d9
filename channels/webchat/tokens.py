"""Visitor tokens and identity verification: pure functions over HMAC-SHA256.

A visitor token is ``v1.<visitor id>.<signature>``; the signature binds the id
to the gateway's secret key, so a token cannot be guessed or altered. An
identifier (say the customer's email) counts as verified only when the site's
backend signed it: ``identifier_hash = hex HMAC-SHA256(identity secret, identifier)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

VERSION = "v1"


def _sign(secret: bytes, visitor_id: str) -> str:
    digest = hmac.new(secret, f"webchat-visitor:{visitor_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_visitor_id() -> str:
    return secrets.token_urlsafe(18)


def issue_token(secret: bytes, visitor_id: str) -> str:
    return f"{VERSION}.{visitor_id}.{_sign(secret, visitor_id)}"


def visitor_from_token(secret: bytes, token: str) -> str | None:
    """The visitor id a token was issued for, or None if it is forged or malformed."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION or not parts[1]:
        return None
    if not hmac.compare_digest(parts[2], _sign(secret, parts[1])):
        return None
    return parts[1]


def identifier_hash(identity_secret: bytes, identifier: str) -> str:
    return hmac.new(identity_secret, identifier.encode(), hashlib.sha256).hexdigest()


def identifier_verified(identity_secret: bytes, identifier: str, claimed_hash: str) -> bool:
    if not isinstance(claimed_hash, str):
        return False
    return hmac.compare_digest(identifier_hash(identity_secret, identifier), claimed_hash.lower())
