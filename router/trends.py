"""Trend alerts as the rule file states them: which conversations count, and when a count is a burst.

Pure: the workers keep the counts in Redis (``workers/trends.py``) and ask a
``Trend`` whether a conversation counts and what threshold a window must reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from conversations.models import Conversation
from router.text import TextView, WordMatcher


@dataclass(frozen=True, slots=True)
class Threshold:
    """What a window must hold to alert; ``usual`` is None while there is no baseline history."""

    count: float
    usual: float | None


@dataclass(frozen=True, slots=True)
class Trend:
    name: str
    queue: str | None
    tags: frozenset[str]
    words: WordMatcher | None
    window: timedelta
    baseline: timedelta
    factor: float
    min_count: int
    notify: str

    def counts(self, conversation: Conversation, first_text: str) -> bool:
        """Whether a routed conversation counts: its queue, any of the tags, any of the words (each given key)."""
        if self.queue is not None and conversation.queue != self.queue:
            return False
        if self.tags and self.tags.isdisjoint(conversation.tags):
            return False
        if self.words is not None:
            subject = conversation.subject
            view = TextView(f"{subject}\n{first_text}" if subject else first_text)
            if not self.words.matches(view):
                return False
        return True

    def threshold(self, baseline_count: int, history: timedelta) -> Threshold:
        """The count that alerts, given the matches in the baseline span and how long it was watched.

        ``history``: how much of the baseline span (before the current window) the trend
        was watched. Less than one window of it means no history: ``min_count`` alone decides.
        """
        span = min(history, self.baseline)
        if span < self.window:
            return Threshold(float(self.min_count), None)
        usual = baseline_count / (span / self.window)
        return Threshold(max(float(self.min_count), self.factor * usual), usual)


def window_words(window: timedelta) -> str:
    """``1h`` → "hour", ``2h`` → "2 hours", ``90m`` → "90 minutes": for "in the last …"."""
    seconds = int(window.total_seconds())
    for unit, size in (("week", 604_800), ("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} seconds"
