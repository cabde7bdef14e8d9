"""How the agents' Slack thread shows a survey: the question labelled as such, the rating as a starred event."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.slack import blocks
from conversations.models import Channel, Direction, Message, MessageId

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_question_and_the_rating_in_the_thread():
    question = Message(id=MessageId("msg_1"), conversation_id="cnv_1", direction=Direction.OUTBOUND,
                       channel=Channel.SMS, author="survey", text="How did we do?", created_at=NOW,
                       meta={"csat": "question", "automatic": "1", "to": "sms:+14155550100"})
    assert blocks.message_line(question, thread=("C1", "1.1")) == (
        ":outbox_tray: Satisfaction survey (sms): How did we do?")
    rated = Message(id=MessageId("msg_2"), conversation_id="cnv_1", direction=Direction.EVENT, channel=None,
                    author="gateway", text="Customer rated 2/5: <!channel> slow", created_at=NOW, kind="csat_rated")
    assert blocks.message_line(rated, thread=("C1", "1.1")) == ":star: Customer rated 2/5: &lt;!channel&gt; slow"
