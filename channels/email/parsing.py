"""What a mail parser worker process runs: ``parse_email`` behind structural limits and a CPU budget.

Kept free of the web stack (``pool.py`` runs it), so a worker imports only the
parser. ``read_mail`` is pure and is also what the property tests drive.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Sequence
from types import FrameType

from channels.email.inbound import ParsedEmail, parse_email
from conversations.messages import InvalidPayload

# Multipart and message/rfc822 parts: the standard library parser recurses into each (a mail nested
# 1,200 deep overflows the stack) and gets slower with every level. Real mail has a handful; a
# forward of a forward of a thread, a few dozen.
MAX_CONTAINERS = 256
CONTAINER_HEADER = re.compile(rb"(?im)^content-type:\s*(?:multipart|message)/")


class ParseTimeout(InvalidPayload):
    """The mail took longer than the parse budget: refused (the same mail would take as long again)."""


class _OutOfTime(BaseException):
    """Raised by the alarm; a BaseException so the parser's own ``except Exception`` cannot swallow it."""


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise _OutOfTime()


def parse_in_worker(raw: bytes, envelope_from: str | None, recipients: Sequence[str], seconds: float) -> ParsedEmail:
    """Runs in the worker process (its main thread): ``read_mail`` with ``seconds`` of CPU time.

    CPU time, not wall-clock time: on a busy machine a mail waits longer but is never refused
    for the wait. A mail of 20,000 tiny MIME parts, each named differently, needs about 5 s;
    real mail, a few milliseconds.
    """
    previous = signal.signal(signal.SIGPROF, _on_alarm)
    try:
        signal.setitimer(signal.ITIMER_PROF, seconds)
        try:
            return read_mail(raw, envelope_from=envelope_from, recipients=recipients)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
    except _OutOfTime:  # also when the alarm fires just before it is cleared: the budget is spent
        raise ParseTimeout(f"the message takes more than {seconds:g} s of CPU to read") from None
    finally:
        signal.signal(signal.SIGPROF, previous)


def read_mail(raw: bytes, *, envelope_from: str | None = None, recipients: Sequence[str] = ()) -> ParsedEmail:
    """``parse_email`` behind the structural limits; pure (what the worker runs, and the property tests).

    Raises:
        InvalidPayload: no sender, or a MIME structure too deep or too large to read.
    """
    containers = 0
    for _ in CONTAINER_HEADER.finditer(raw):
        containers += 1
        if containers > MAX_CONTAINERS:
            raise InvalidPayload(f"the message has more than {MAX_CONTAINERS} nested MIME parts")
    try:
        return parse_email(raw, envelope_from=envelope_from, recipients=recipients)
    except RecursionError:  # the standard library parser recurses once per nesting level
        raise InvalidPayload("the MIME structure is nested too deeply") from None
