"""CSAT ratings: what a reply starting with 1-5 would rate, and the names CSAT keeps. Pure.

Below ``store`` (the ingest path asks ``parse_rating`` before its script runs);
``csat.py`` builds on these to ask the question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from conversations import codec, ids
from conversations.messages import InboundMessage
from conversations.models import ConversationId, Direction, Message, MessageId

# Conversation hash fields.
SENT_AT = "csat_sent_at"  # ms; set once, never cleared: the survey is never asked twice
UNTIL = "csat_until"  # ms; a rating is taken until then (cleared when the conversation reopens)
RATING = "csat_rating"  # "1".."5", written by the ingest script
COMMENT = "csat_comment"
RATED_AT = "csat_rated_at"
RATING_MESSAGE = "csat_message"  # the customer's message that carried the rating
# Message meta of the question: web chat shows it with 1-5 buttons.
QUESTION_META = "csat"
QUESTION = "question"
# Timeline event kinds (and the domain events' names).
SENT_KIND = "csat_sent"
RATED_KIND = "csat_rated"
ANSWER_KIND = "csat_answer"  # the kind of the customer's message that was taken as the rating
# A customer attribute: set (to anything but "", "0", "false", "no") and they are never surveyed.
OPT_OUT = "csat_opt_out"
MAX_COMMENT = 1000
SCALE = "Reply with a number from 1 (poor) to 5 (excellent); add a comment after it if you like."

# A digit 1-5 first (after spaces), maybe "/5", then not a letter or digit ("5 stars", "4/5", "3 - ok")
# and not a decimal or a time ("3.5", "2:30"): "1st", "10" and "4pm" are not ratings.
_RATING = re.compile(r"^\s*([1-5])(?:\s*/\s*5)?(?![\w])(?![.,:/]\d)[\s\-\u2013\u2014:.,;!)*]*(.*)\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Rating:
    value: int
    comment: str


def parse_rating(text: str) -> Rating | None:
    """The rating a reply would give (its first number 1-5, the words after it as the comment), or None."""
    match = _RATING.match(text or "")
    if match is None:
        return None
    return Rating(int(match.group(1)), match.group(2).strip()[:MAX_COMMENT])


def awaits_rating(conversation_fields: Mapping[str, str], now_ms: int) -> bool:
    """Whether the conversation's survey still takes an answer (the ingest script's test, for callers' hints)."""
    until = conversation_fields.get(UNTIL) or ""
    return until.isdigit() and int(until) >= now_ms and not conversation_fields.get(RATING)


def rated_entry(rating: Rating, now: datetime) -> Message:
    """The timeline entry of a rating; the ingest script stores it only if the reply is taken as one."""
    text = f"Customer rated {rating.value}/5" + (f": {rating.comment}" if rating.comment else "")
    return Message(id=MessageId(ids.message_id()), conversation_id=ConversationId(""), direction=Direction.EVENT,
                   channel=None, author="gateway", text=text, created_at=now, kind=RATED_KIND,
                   meta={"rating": str(rating.value), "comment": rating.comment})


def script_args(message: InboundMessage, now: datetime) -> list[str]:
    """The ingest script's rating arguments: rating, comment, the entry's field count and fields.

    Whether the message *is* a rating is the script's call (the conversation's state decides);
    an automatic message (an auto-responder answering the survey) never rates.
    """
    rating = None if message.automatic else parse_rating(message.text)
    if rating is None:
        return ["", "", "0"]
    entry = [part for pair in codec.message_fields(rated_entry(rating, now)).items() for part in pair]
    return [str(rating.value), rating.comment, str(len(entry)), *entry]
