"""Who a hello says the visitor is, checked: a token names an anonymous visitor, a hash proves an identifier.

Pure. A visitor token only ever stands for the anonymous identity
``webchat:visitor:<id>``. A verified identifier (``webchat:user:<identifier>``)
is proven by its ``identifier_hash`` on every hello and is never linked to the
token's anonymous identity, so a token seen with identifier A and then with B
never joins A and B, and a hello with the token alone (the site logged out)
shows only the anonymous session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.webchat import protocol, tokens
from channels.webchat.inbound import FrameError, Hello
from conversations.models import Channel, Customer, Identity

ANONYMOUS_PREFIX = "webchat:visitor:"


@dataclass
class Visitor:
    """What one socket has proven: its visitor id and, maybe, a verified identifier."""

    visitor_id: str
    identity: Identity
    linked: tuple[Identity, ...]
    name: str | None
    verified: bool = False
    conversation_id: str | None = None
    customer_id: str | None = None  # who owned conversation_id when last seen (a merge may move it)
    # Ids of messages this socket has sent to the visitor (never forwarded twice).
    forwarded: set[str] = field(default_factory=set)
    # Outbound messages sent on this socket and not yet acknowledged: id -> conversation id.
    awaiting_ack: dict[str, str] = field(default_factory=dict)
    # Provider ids of this socket's own messages being stored: their pub/sub echo can arrive before
    # the ingest returns (and before the ack), and must not show the visitor their message twice.
    sending: set[str] = field(default_factory=set)


def anonymous_identity(visitor_id: str) -> Identity:
    return Identity(Channel.WEBCHAT, f"visitor:{visitor_id}")


def resolve_visitor(hello: Hello, *, secret: bytes, identity_secret: bytes | None,
                    token_ttl_seconds: float) -> tuple[Visitor, str]:
    """Check a hello's token and identity claims; returns the visitor and its renewed token."""
    if hello.visitor_token:
        try:
            visitor_id = tokens.visitor_from_token(secret, hello.visitor_token, ttl_seconds=token_ttl_seconds)
        except tokens.TokenExpired as expired:
            raise FrameError("token_expired", f"{expired}; start again without one") from None
        if visitor_id is None:
            raise FrameError("invalid_token", "the visitor token is not valid; start again without one")
    else:
        visitor_id = tokens.new_visitor_id()
    token = tokens.issue_token(secret, visitor_id)
    if hello.identifier is None:
        if hello.identifier_hash:
            raise FrameError("identity_unverified", "identifier_hash without identifier")
        return Visitor(visitor_id, anonymous_identity(visitor_id), (), hello.name), token
    if identity_secret is None:
        raise FrameError("identity_unverified", "identity verification is not configured on this gateway")
    if not hello.identifier_hash or not tokens.identifier_verified(identity_secret, hello.identifier,
                                                                 hello.identifier_hash):
        raise FrameError("identity_unverified", "identifier_hash does not match the identifier")
    verified = Identity(Channel.WEBCHAT, f"user:{hello.identifier}")
    # The site vouches for the identifier; if it is an email address, the site vouches for
    # that address too (the second proof that links this chat to the email customer).
    linked: tuple[Identity, ...] = ()
    if protocol.looks_like_email(hello.identifier):
        linked = (Identity(Channel.EMAIL, hello.identifier.strip().lower()),)
    return Visitor(visitor_id, verified, linked, hello.name, verified=True), token


def fresh_visitor(secret: bytes, name: str | None) -> tuple[Visitor, str]:
    """A new anonymous visitor, for a token whose identity now belongs to a known customer."""
    visitor_id = tokens.new_visitor_id()
    return Visitor(visitor_id, anonymous_identity(visitor_id), (), name), tokens.issue_token(secret, visitor_id)


def only_anonymous(customer: Customer) -> bool:
    """The customer is known by visitor tokens alone, so a token may open their conversation.

    A customer with any other identity (an admin linked the visitor to a known
    person, or data from before tokens were kept anonymous) is shown only to a
    socket that proves one of those identities.
    """
    return all(identity.key.startswith(ANONYMOUS_PREFIX) for identity in customer.identities)
