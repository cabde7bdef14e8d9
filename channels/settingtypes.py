"""Value types the channels' settings groups share: each refuses a bad value with a reason that names the fix.

(The gateway turns a refusal into one line naming the ``GATEWAY_…`` variable.)
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

# A sender Twilio accepts: an E.164 number, a short code, or an alphanumeric sender ID.
_SENDER = re.compile(r"^(\+[1-9]\d{6,14}|\d{5,6}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11})$")


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL such as https://support.example.com")
    return value


def _sender(value: str) -> str:
    if not _SENDER.match(value):
        raise ValueError(f"{value!r} is not a phone number in E.164 form such as +15005550006 "
                         "(nor a short code or an alphanumeric sender ID)")
    return value


def _mailbox(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain:
        raise ValueError(f"{value!r} is not an email address such as support@example.com")
    return value


WebUrl = Annotated[str, AfterValidator(_web_url)]
PhoneNumber = Annotated[str, AfterValidator(_sender)]
Mailbox = Annotated[str, AfterValidator(_mailbox)]
