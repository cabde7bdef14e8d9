"""Compiled ``when`` conditions: small objects with a fast ``test`` and an ``explain``.

A rule's conditions are compiled once per load into a tree of these. ``test``
is the hot path (no strings built, nothing allocated beyond the per-decision
``Facts`` caches); ``explain`` answers the same question with the reason, for
``rules explain`` and the admin API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from conversations.messages import InboundMessage
from conversations.models import Channel, Conversation, Customer
from router.calendar import Calendar
from router.text import MAX_TEXT_CHARS, RegexMatcher, TextView, WordMatcher


class Facts:
    """Everything a condition may look at for one decision, computed lazily once."""

    __slots__ = ("message", "conversation", "customer", "now", "_text", "_subject", "_content", "_attrs", "_open")

    def __init__(
        self,
        conversation: Conversation | None,
        message: InboundMessage | None,
        customer: Customer | None,
        now: datetime,
    ) -> None:
        # message is None when an agent asks to reroute without a new message.
        self.message = message
        self.conversation = conversation
        self.customer = customer
        self.now = now
        self._text: TextView | None = None
        self._subject: TextView | None = None
        self._content: TextView | None = None
        self._attrs: dict[str, str] | None = None
        self._open: dict[str, bool] = {}

    @property
    def text(self) -> str:
        return self.message.text if self.message is not None else ""

    @property
    def channel(self) -> Channel | None:
        return self.message.channel if self.message is not None else None

    def view(self, field: str) -> TextView:
        if field == "text":
            if self._text is None:
                self._text = TextView(self.text)
            return self._text
        if field == "subject":
            if self._subject is None:
                self._subject = TextView(self.subject)
            return self._subject
        if self._content is None:
            subject, text = self.subject, self.text
            if not subject:
                self._content = self.view("text")  # the same text: share its words
            elif self.content_is_joined():
                # Subject and text are usually split into words anyway: join theirs.
                self._content = TextView(f"{subject}\n{text}", (self.view("subject"), self.view("text")))
            else:  # the cut to MAX_TEXT_CHARS falls in a different place: split it on its own
                self._content = TextView(f"{subject}\n{text}")
        return self._content

    def content_is_joined(self) -> bool:
        """Whether the content view's words are exactly the subject's plus the text's."""
        subject = self.subject
        return not subject or len(subject) + 1 + len(self.text) <= MAX_TEXT_CHARS

    @property
    def subject(self) -> str | None:
        if self.message is not None and self.message.subject:
            return self.message.subject
        return self.conversation.subject if self.conversation is not None else None

    def attribute(self, name: str) -> str | None:
        """A customer attribute, name and value case-folded."""
        if self._attrs is None:
            attrs = self.customer.attributes if self.customer is not None else {}
            self._attrs = {k.casefold(): str(v).casefold() for k, v in attrs.items()}
        return self._attrs.get(name)

    def is_open(self, calendar: Calendar) -> bool:
        found = self._open.get(calendar.name)
        if found is None:
            found = self._open[calendar.name] = calendar.is_open(self.now)
        return found


class Condition(Protocol):
    cost: int  # evaluation order inside "all": cheap tests first

    def test(self, facts: Facts) -> bool: ...

    def explain(self, facts: Facts) -> tuple[bool, str]: ...


def _listing(values: Sequence[object], limit: int = 6) -> str:
    shown = ", ".join(str(v) for v in list(values)[:limit])
    return shown + (f", … ({len(values)} in all)" if len(values) > limit else "")


class Always:
    cost = 0

    def test(self, facts: Facts) -> bool:
        return True

    def explain(self, facts: Facts) -> tuple[bool, str]:
        return True, "no conditions (matches everything)"


class ChannelIs:
    cost = 1

    def __init__(self, channels: Sequence[Channel]) -> None:
        self.channels = frozenset(channels)
        self._names = sorted(c.value for c in self.channels)

    def test(self, facts: Facts) -> bool:
        return facts.channel in self.channels

    def explain(self, facts: Facts) -> tuple[bool, str]:
        ok = self.test(facts)
        channel = facts.channel.value if facts.channel is not None else "(no message)"
        return ok, f"channel {channel} {'is' if ok else 'is not'} {_listing(self._names)}"


class TextHas:
    """Any of the word lists / regexes matches the text, subject or both."""

    def __init__(self, field: str, matchers: Sequence[WordMatcher | RegexMatcher]) -> None:
        self.field = field
        self.matchers = tuple(matchers)
        self.cost = 10 if all(isinstance(m, WordMatcher) for m in matchers) else 20

    def test(self, facts: Facts) -> bool:
        view = facts.view(self.field)
        for matcher in self.matchers:
            if matcher.matches(view):
                return True
        return False

    def explain(self, facts: Facts) -> tuple[bool, str]:
        view = facts.view(self.field)
        for matcher in self.matchers:
            found = matcher.first_match(view)
            if found is not None:
                what = f"regex /{matcher.pattern}/ found {found!r}" if isinstance(matcher, RegexMatcher) else repr(found)
                return True, f"{self.field} has {what}"
        wanted: list[str] = []
        for matcher in self.matchers:
            wanted.extend(matcher.words if isinstance(matcher, WordMatcher) else [f"/{matcher.pattern}/"])
        return False, f"{self.field} has none of {_listing(wanted)}"


class AttributeIn:
    cost = 2

    def __init__(self, name: str, values: Sequence[str]) -> None:
        self.name = name.casefold()
        self.values = frozenset(v.casefold() for v in values)
        self._shown = list(values)

    def test(self, facts: Facts) -> bool:
        return facts.attribute(self.name) in self.values

    def explain(self, facts: Facts) -> tuple[bool, str]:
        actual = facts.attribute(self.name)
        ok = actual in self.values
        have = "not set" if actual is None else repr(actual)
        return ok, f"customer {self.name} is {have}; wanted {_listing(self._shown)}"


class ConversationFact:
    """One fact about the conversation so far, as a named predicate."""

    cost = 2

    def __init__(
        self,
        label: str,
        predicate: Callable[[Conversation | None], bool],
        describe: Callable[[Conversation | None], str],
    ) -> None:
        self.label = label
        self._predicate = predicate
        self._describe = describe

    def test(self, facts: Facts) -> bool:
        return self._predicate(facts.conversation)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        ok = self._predicate(facts.conversation)
        return ok, f"conversation {self._describe(facts.conversation)} (wanted {self.label})"


class InsideHours:
    cost = 30

    def __init__(self, calendar: Calendar, inside: bool) -> None:
        self.calendar = calendar
        self.inside = inside

    def test(self, facts: Facts) -> bool:
        return facts.is_open(self.calendar) == self.inside

    def explain(self, facts: Facts) -> tuple[bool, str]:
        is_open = facts.is_open(self.calendar)
        state = "open" if is_open else "closed"
        wanted = "inside" if self.inside else "outside"
        local = facts.now.astimezone(self.calendar.tz).strftime("%a %Y-%m-%d %H:%M %Z")
        return is_open == self.inside, f"{wanted} {self.calendar.name} hours: {local} is {state}"


class AllOf:
    def __init__(self, parts: Sequence[Condition]) -> None:
        self.parts = tuple(sorted(parts, key=lambda p: p.cost))
        self.cost = max((p.cost for p in self.parts), default=0)

    def test(self, facts: Facts) -> bool:
        for part in self.parts:
            if not part.test(facts):
                return False
        return True

    def explain(self, facts: Facts) -> tuple[bool, str]:
        reasons = []
        for part in self.parts:
            ok, reason = part.explain(facts)
            if not ok:
                return False, reason
            reasons.append(reason)
        return True, "; ".join(reasons)


class AnyOf:
    def __init__(self, parts: Sequence[Condition]) -> None:
        self.parts = tuple(sorted(parts, key=lambda p: p.cost))
        self.cost = max((p.cost for p in self.parts), default=0)

    def test(self, facts: Facts) -> bool:
        for part in self.parts:
            if part.test(facts):
                return True
        return False

    def explain(self, facts: Facts) -> tuple[bool, str]:
        reasons = []
        for part in self.parts:
            ok, reason = part.explain(facts)
            if ok:
                return True, reason
            reasons.append(reason)
        return False, "none of: " + " | ".join(reasons)


class Not:
    def __init__(self, part: Condition) -> None:
        self.part = part
        self.cost = part.cost

    def test(self, facts: Facts) -> bool:
        return not self.part.test(facts)

    def explain(self, facts: Facts) -> tuple[bool, str]:
        ok, reason = self.part.explain(facts)
        return not ok, f"not ({reason})"
