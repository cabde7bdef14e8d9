"""Is the sender who the From header says? What our own receiving MTA found out (RFC 8601).

Anybody can write any ``From``. The receiving mail server checks SPF, DKIM
and DMARC and writes the results into an ``Authentication-Results`` header
named by its *authserv-id*; the sender can write such headers too, so only the
ones carrying an authserv-id we were told to trust
(``GATEWAY_EMAIL__TRUST_AUTHENTICATION_RESULTS``) count, and of those only the
topmost: every server prepends its headers, so our MTA's is above anything
the sender wrote (RFC 8601 §5 also has the MTA delete forged ones).

A mail whose trusted result says ``dmarc=fail`` is kept, but under an
identity of its own (``email:unverified:<address>``): it never joins the
claimed customer's conversations, and agents see it flagged. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

UNVERIFIED_PREFIX = "unverified:"
MAX_HEADERS = 20  # Authentication-Results headers kept from one mail (ours is the first)
_COMMENT = re.compile(r"\([^()]*\)")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_RESULT = re.compile(r"^\s*([a-z0-9_.-]+)(?:\s*/\s*[0-9]+)?\s*=\s*([a-z0-9_-]+)", re.IGNORECASE)


def trusted_ids(setting: str | None) -> frozenset[str]:
    """The authserv-ids of ``GATEWAY_EMAIL__TRUST_AUTHENTICATION_RESULTS`` (comma-separated), lower-cased."""
    return frozenset(part.strip().lower() for part in (setting or "").split(",") if part.strip())


def _without_comments(value: str) -> str:
    value = _QUOTED.sub('""', value)
    for _ in range(10):  # nested comments, innermost first; a bounded number of levels
        stripped = _COMMENT.sub(" ", value)
        if stripped == value:
            break
        value = stripped
    return value


def parse(value: str) -> tuple[str, dict[str, str]]:
    """(authserv-id lower-cased, {method: result}) of one header value; the first result per method wins."""
    parts = _without_comments(value).split(";")
    authserv = parts[0].split()[0].lower() if parts[0].split() else ""
    results: dict[str, str] = {}
    for part in parts[1:]:
        match = _RESULT.match(part)
        if match:
            results.setdefault(match.group(1).lower(), match.group(2).lower())
    return authserv, results


def dmarc_failure(headers: Sequence[str], trusted: Iterable[str]) -> str | None:
    """Why this mail's sender is unverified (``"dmarc=fail (mx.example.com)"``), or ``None``.

    ``headers``: the mail's Authentication-Results values, top first.
    """
    trusted = frozenset(trusted)
    if not trusted:
        return None
    for value in headers[:MAX_HEADERS]:
        authserv, results = parse(value)
        if authserv in trusted:
            # The topmost header of ours decides; one below it may be the sender's forgery.
            return f"dmarc=fail ({authserv})" if results.get("dmarc") == "fail" else None
    return None


def unverified_address(address: str) -> str:
    """The identity address a flagged mail is stored under: never the claimed customer's."""
    return f"{UNVERIFIED_PREFIX}{address}"


def delivery_address(identity_address: str) -> str:
    """Where mail to an identity goes: the claimed address, also for a flagged identity."""
    return identity_address.removeprefix(UNVERIFIED_PREFIX)
