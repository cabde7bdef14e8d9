"""Twilio's ``X-Twilio-Signature``, checked against the URL Twilio was configured with."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from conversations.messages import InvalidSignature

HEADER = "X-Twilio-Signature"


def public_url(base_url: str, path_qs: str) -> str:
    """The URL Twilio signed: the public base (behind a proxy the Host header is not it) + path and query."""
    return base_url.rstrip("/") + path_qs


def verify(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> None:
    """Raise ``InvalidSignature`` unless ``signature`` signs ``url`` + every POSTed field.

    Every field counts, including ones Twilio adds without notice, and nothing
    else (the number a pool message went to is just another signed field).
    """
    if not signature:
        raise InvalidSignature(f"{HEADER} is missing")
    # RequestValidator tries the URL with and without an explicit port, as Twilio may sign either.
    if not RequestValidator(auth_token).validate(url, dict(params), signature):
        raise InvalidSignature(f"{HEADER} does not match {url}")
