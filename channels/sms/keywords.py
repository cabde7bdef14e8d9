"""Twilio's opt-out, opt-in and help keywords in an inbound SMS; pure, no I/O.

Twilio blocks its own sends to a number that texted STOP and answers STOP,
START and HELP itself; the gateway must honour the same words (nothing more
goes to that number) and must not treat them as support requests. A message
is a keyword when its whole text, trimmed, is one of Twilio's words (any case),
or when Twilio's Advanced Opt-Out says so with ``OptOutType`` (which also
covers the custom keywords an account configured there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from conversations.consent import Request

# Twilio's default keywords (Advanced Opt-Out adds OPTOUT and REVOKE to the opt-out list).
OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN = frozenset({"START", "UNSTART", "UNSTOP", "YES"})
HELP = frozenset({"HELP", "INFO"})
OPT_OUT_TYPES = {"STOP": Request.OPT_OUT, "START": Request.OPT_IN, "HELP": Request.HELP}
# How an agent's refused reply says the customer gets messages again.
RESUME = "texts START"
MAX_WORD = 40  # a keyword shown in the timeline; longer text cannot be one of Twilio's words anyway


@dataclass(frozen=True, slots=True)
class Keyword:
    request: Request
    word: str  # what the customer texted, trimmed
    via: str  # what the timeline says the customer did: 'texted "STOP"'


def keyword(form: Mapping[str, str]) -> Keyword | None:
    """The keyword an inbound Twilio webhook carries, or None for an ordinary message."""
    word = (form.get("Body") or "").strip()
    shown = word if len(word) <= MAX_WORD else word[:MAX_WORD] + "…"
    declared = OPT_OUT_TYPES.get((form.get("OptOutType") or "").strip().upper())
    if declared is not None:
        return Keyword(declared, word, f'texted "{shown}" (Twilio OptOutType={declared_name(declared)})')
    upper = word.upper()
    for words, request in ((OPT_OUT, Request.OPT_OUT), (OPT_IN, Request.OPT_IN), (HELP, Request.HELP)):
        if upper in words:
            return Keyword(request, word, f'texted "{word}"')
    return None


def declared_name(request: Request) -> str:
    return next(name for name, value in OPT_OUT_TYPES.items() if value == request)
