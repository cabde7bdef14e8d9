"""Visitor tokens and identity verification: pure functions over HMAC-SHA256.

A visitor token is ``v2.<visitor id>.<issued at, unix seconds>.<signature>``; the
signature binds id and issue time to the gateway's secret key, so a token cannot
be guessed, altered or made younger. It expires ``ttl_seconds`` after it was
issued; every ``welcome`` hands out a renewed one, so only a token left unused
that long dies. A token only ever names an anonymous visitor: a verified
identifier is proven by its own ``identifier_hash`` on every hello.

An identifier (say the customer's email) counts as verified only when the
site's backend signed it: ``identifier_hash = hex HMAC-SHA256(identity secret, identifier)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from conversations.clock import now_seconds

VERSION = "v2"
MAX_TOKEN = 200


class TokenExpired(ValueError):
    """The token was genuine but is too old (or of the old format, which never expired)."""


def _sign(secret: bytes, visitor_id: str, issued_at: int) -> str:
    digest = hmac.new(secret, f"webchat-visitor:{VERSION}:{visitor_id}:{issued_at}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _same(a: str, b: str) -> bool:
    """Constant-time comparison that never raises: compare_digest refuses non-ASCII ``str``."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def new_visitor_id() -> str:
    return secrets.token_urlsafe(18)


def issue_token(secret: bytes, visitor_id: str, *, issued_at: int | None = None) -> str:
    issued = int(now_seconds()) if issued_at is None else issued_at
    return f"{VERSION}.{visitor_id}.{issued}.{_sign(secret, visitor_id, issued)}"


def visitor_from_token(secret: bytes, token: str, *, ttl_seconds: float, now: float | None = None) -> str | None:
    """The visitor id a token was issued for, or None if it is forged or malformed.

    Raises ``TokenExpired`` for a genuine token past its lifetime, and for any
    ``v1`` token: those were issued before tokens expired, so none is trusted.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        return None
    parts = token.split(".")
    if len(parts) == 3 and parts[0] == "v1":
        raise TokenExpired("visitor tokens of the old format no longer open a session")
    if len(parts) != 4 or parts[0] != VERSION or not parts[1] or not parts[2].isascii() or not parts[2].isdigit():
        return None
    issued = int(parts[2])
    if not _same(parts[3], _sign(secret, parts[1], issued)):
        return None
    current = now_seconds() if now is None else now
    if issued > current + 300 or current - issued > ttl_seconds:  # 5 min of clock skew between processes
        raise TokenExpired("the visitor token has expired")
    return parts[1]


def identifier_hash(identity_secret: bytes, identifier: str) -> str:
    return hmac.new(identity_secret, identifier.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def identifier_verified(identity_secret: bytes, identifier: str, claimed_hash: str) -> bool:
    if not isinstance(claimed_hash, str) or not isinstance(identifier, str):
        return False
    return _same(identifier_hash(identity_secret, identifier), claimed_hash.lower())
