"""Secrets never reach a log line.

Two layers, both installed by the CLI's logging set-up (``install``):

- ``RedactingFilter`` sits on every handler of the root logger and rewrites
  each record before it is formatted: the values of every configured secret
  (each ``SecretStr`` of the settings, the Redis URL's password, and the forms
  they travel in: URL-quoted, HTTP basic auth) and anything shaped like a
  credential (visitor tokens, Slack tokens, bearer/basic credentials, URL
  passwords) become ``[redacted]``, in the message, its arguments and the
  formatted traceback alike.
- ``AccessLogger`` writes the access log without the values of query
  parameters and path segments that carry secrets (``?token=`` of the demo
  URL, the SendGrid secret in its legacy webhook path), including in the
  ``Referer`` header, which repeats the page URL a browser came from.

The filter catches what the access logger's structure does not know about
and vice versa; a secret must get past both to be written.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse
from pydantic import BaseModel, SecretStr

REDACTED = "[redacted]"
# Shorter values would turn ordinary words of a log line into "[redacted]"; a secret that short is
# no secret anyway.
MIN_SECRET_LENGTH = 6
# Query parameters whose value is a credential, whatever route they are sent to (lower-cased).
SECRET_QUERY_PARAMS = frozenset({
    "token", "access_token", "admin_token", "visitor_token", "api_key", "apikey", "key", "secret",
    "signature", "sig", "password", "pass", "auth", "identifier_hash", "code",
})
# Route parameters (``/email/sendgrid/{secret}``) whose value is a credential.
SECRET_PATH_PARAMS = frozenset({"secret", "token", "key"})

# Credential shapes redacted even when the value is not one of ours (a forged or foreign token is
# still somebody's token). Each keeps what helps debugging (the visitor id, the scheme, the user).
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Web chat visitor tokens v1.<visitor id>.<signature>: the signature is the credential.
    (re.compile(r"\b(v\d\.(?:[A-Za-z0-9_-]{8,}\.)+)[A-Za-z0-9_-]{16,}"), rf"\g<1>{REDACTED}"),
    # Slack bot, user, app and refresh tokens.
    (re.compile(r"\b(xox[abeoprs]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]+"), rf"\g<1>-{REDACTED}"),
    # Agent API tokens (`gateway agents add`), wherever they are pasted.
    (re.compile(r"\b(gwa_)[A-Za-z0-9_-]{20,}"), rf"\g<1>{REDACTED}"),
    # Authorization header values wherever they are echoed.
    # (A credential has a digit, a capital or a symbol; "basic routing" stays as it is.)
    (re.compile(r"\b([Bb]earer|[Bb]asic)(\s+|%20|\+)(?=[a-z.-]*[A-Z0-9_~+/=])[A-Za-z0-9._~+/=-]{6,}"),
     rf"\g<1>\g<2>{REDACTED}"),
    # Slack's response_url and incoming-webhook URLs: whoever has one can post as the app.
    (re.compile(r"(https://hooks\.slack\.com/[a-z]+/)[^\s'\"<>]+"), rf"\g<1>{REDACTED}"),
    # user:password@ in any URL (Redis, SMTP, proxies).
    (re.compile(r"(://[^/\s:@]*:)[^@\s/]+@"), rf"\g<1>{REDACTED}@"),
)


def secret_values(settings: BaseModel) -> list[str]:
    """Every configured secret of ``settings`` and the encodings it is sent in, longest first.

    Longest first, so a secret that contains another is replaced whole.
    """
    found: set[str] = set()
    for value in _secret_fields(settings):
        found.update(_forms(value))
    redis_url = getattr(settings, "redis_url", None)
    if redis_url:
        password = urlsplit(redis_url).password
        if password:
            found.update(_forms(password))
    twilio = getattr(settings, "twilio", None)
    if twilio is not None and twilio.account_sid and twilio.auth_token is not None:
        # The Twilio client sends "Authorization: Basic base64(sid:token)".
        found.add(_b64(f"{twilio.account_sid}:{twilio.auth_token.get_secret_value()}"))
    email = getattr(settings, "email", None)
    if email is not None and email.username and email.password is not None:
        # SMTP AUTH PLAIN and LOGIN send the credentials base64-encoded.
        password = email.password.get_secret_value()
        found.add(_b64(f"\0{email.username}\0{password}"))
        found.add(_b64(password))
    return sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def _secret_fields(model: BaseModel) -> Iterable[str]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
        elif isinstance(value, BaseModel):
            yield from _secret_fields(value)


def _forms(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote_plus(value, safe="")}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret value and every credential-shaped string replaced."""
    for value in secrets:
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_query(query: str) -> str:
    """A query string with the values of ``SECRET_QUERY_PARAMS`` replaced; other values untouched."""
    if not query:
        return query
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in SECRET_QUERY_PARAMS for name, _ in pairs):
        return query
    return urlencode([(name, REDACTED if name.lower() in SECRET_QUERY_PARAMS else value) for name, value in pairs],
                     safe="[]")


def redact_url(url: str) -> str:
    """A URL (or path with query) without its password and secret query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", f":{REDACTED}@")
    return urlunsplit((parts.scheme, netloc, parts.path, redact_query(parts.query), parts.fragment))


def redact_target(raw_path_qs: str, path_params: Mapping[str, str]) -> str:
    """The request target for the access log: secret route parameters and query values redacted."""
    path, question, query = raw_path_qs.partition("?")
    for name, value in path_params.items():
        if name.lower() in SECRET_PATH_PARAMS and value:
            for form in sorted(_forms(value), key=len, reverse=True):
                path = path.replace(form, REDACTED)
    return path + (question + redact_query(query) if question else "")


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and traceback with the secrets taken out.

    The message is formatted here (``msg % args``) so a secret passed as an
    argument is caught too; the traceback is formatted into ``exc_text``, which
    formatters print instead of formatting ``exc_info`` again.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template, still redacted
            message = str(record.msg)
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


def install(secrets: Iterable[str], root: logging.Logger | None = None) -> RedactingFilter:
    """Put one ``RedactingFilter`` on every handler of the root logger (call after ``basicConfig``).

    Handler filters see records from every logger that propagates to the root,
    which is every logger of the gateway and of the libraries it uses.
    """
    root = root or logging.getLogger()
    redacting = RedactingFilter(secrets)
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(redacting)
    return redacting


class AccessLogger(AbstractAccessLogger):
    """``remote "METHOD target HTTP/x.y" status bytes seconds "referer" "user-agent"``, secrets redacted."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        match_info: Mapping[str, str] = getattr(request, "match_info", None) or {}
        target = redact_target(request.raw_path, match_info)
        referer = redact_url(request.headers.get("Referer", "-"))
        version = f"{request.version.major}.{request.version.minor}"
        self.logger.info('%s "%s %s HTTP/%s" %s %s %.3fs "%s" "%s"', request.remote or "-", request.method, target,
                         version, response.status, response.body_length, time, referer,
                         request.headers.get("User-Agent", "-"))
