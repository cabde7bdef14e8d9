"""Customer satisfaction surveys: whom to ask, what the question says, what counts as a rating. Pure.

The question is written in the same atomic change that resolves the
conversation (``service.resolve``), so it is asked at most once however often
the conversation is resolved. The answer is recognized by the ingest script
(``scripts/ingest.lua``) in the same step that stores the reply: a reply that
starts with 1-5 while the conversation is still resolved and the window is open
becomes the rating, and neither reopens the conversation nor opens a new one.
Python only says whether a text *could* be a rating (``parse_rating``); the
script decides whether it *is* one, from the conversation's state at that moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conversations import changes, codec
from conversations.models import Channel, Conversation, MessageId
from conversations.ratings import OPT_OUT, QUESTION, QUESTION_META, SCALE, SENT_AT, SENT_KIND, UNTIL
from conversations.rules import CsatSurvey
from conversations.store import LAST_INBOUND_AUTOMATIC, Change


def opted_out(attributes: dict[str, Any]) -> bool:
    value = attributes.get(OPT_OUT)
    return value is not None and value is not False and str(value).strip().lower() not in ("", "0", "false", "no")


def question_text(question: str, channel: Channel) -> str:
    """What the customer reads: web chat shows buttons, every other channel says how to answer."""
    return question if channel == Channel.WEBCHAT else f"{question}\n{SCALE}"


def skip_reason(current: Conversation, survey: CsatSurvey | None, *, customer_opted_out: bool) -> str | None:
    """Why no survey goes out when ``current`` is resolved, or None to ask."""
    if survey is None or not survey.ask_on_resolve:
        return "no survey for this queue"
    if current.extra.get(SENT_AT):
        return "already asked for this conversation"
    if current.last_inbound_channel is None:
        return "the customer has no channel to ask on"
    if customer_opted_out:
        return "the customer opted out of surveys"
    if current.extra.get(LAST_INBOUND_AUTOMATIC) == "1":
        return "the customer's last message was automatic (RFC 3834)"
    return None


def asked(current: Conversation, survey: CsatSurvey, *, channel: Channel, now: datetime,
          message_id: MessageId, language: str | None = None) -> Change:
    """The survey question on ``channel`` (delivery queued, sent as automatic) and its timeline entry.

    Automatic, like an auto-reply: it does not count as an agent's answer for the SLA clocks,
    and email marks it ``Auto-Submitted`` so no auto-responder answers it. ``language``: the
    customer's, which picks the question's text (else the survey's default).
    """
    change = changes.replied(current, message_id, question_text(survey.question_in(language), channel), "survey", now,
                             channel=channel, automatic=True, meta={QUESTION_META: QUESTION})
    until = now + survey.window
    entry = changes.event_message(current, SENT_KIND, f"Satisfaction survey sent on {channel.value}", now,
                                  {"channel": channel.value, "message_id": message_id, "until": codec.iso(until) or ""})
    change.fields.update({SENT_AT: codec.to_ms(now), UNTIL: codec.to_ms(until)})
    change.messages.insert(0, entry)
    return change
