"""Skip rules that cannot match: an inverted index from words to rules.

Most rules require one of a few words ("refund", "invoice", ...). Such a rule
cannot match a message that contains none of them, so at load each rule's
required words (its *gate*) go into a word → rules index, and a decision only
evaluates the rules gated by words the message actually has, plus the rules
without a gate, still in file order. With hundreds of rules this turns a scan
of every rule into a handful of dictionary lookups; the full conditions are
still tested on every candidate, so the index can only skip, never decide.
"""

from __future__ import annotations

from collections.abc import Sequence

from router.conditions import AllOf, AnyOf, Condition, Facts, TextHas
from router.text import WordMatcher

Gate = tuple[str, bool, frozenset[str]]  # field, case_sensitive, words (one must occur)


def gate_of(condition: Condition) -> Gate | None:
    """The words one of which the text must contain for ``condition`` to hold."""
    if isinstance(condition, TextHas):
        if not all(isinstance(m, WordMatcher) for m in condition.matchers):
            return None  # a regex can match without any particular word
        case = {m.case_sensitive for m in condition.matchers}  # type: ignore[union-attr]
        if len(case) != 1:
            return None
        words: set[str] = set()
        for matcher in condition.matchers:
            tokens = matcher.gate_tokens()  # type: ignore[union-attr]
            if tokens is None:
                return None
            words |= tokens
        return condition.field, case.pop(), frozenset(words)
    if isinstance(condition, AllOf):
        # Any one part that is gated gates the whole conjunction; the
        # narrowest gate skips the most.
        gates = [g for g in (gate_of(p) for p in condition.parts) if g is not None]
        return min(gates, key=lambda g: len(g[2]), default=None)
    if isinstance(condition, AnyOf):
        gates = [gate_of(p) for p in condition.parts]
        if not gates or any(g is None for g in gates):
            return None
        keys = {(g[0], g[1]) for g in gates if g is not None}
        if len(keys) != 1:
            return None
        field, case = keys.pop()
        return field, case, frozenset().union(*(g[2] for g in gates if g is not None))
    return None


class CandidateIndex:
    """Which rules (by position) are worth testing for a given message."""

    def __init__(self, conditions: Sequence[Condition]) -> None:
        self.size = len(conditions)
        always: list[int] = []
        index: dict[tuple[str, bool], dict[str, list[int]]] = {}
        for position, condition in enumerate(conditions):
            gate = gate_of(condition)
            if gate is None:
                always.append(position)
                continue
            field, case, words = gate
            by_word = index.setdefault((field, case), {})
            for word in words:
                by_word.setdefault(word, []).append(position)
        self._always = frozenset(always)
        self._all = tuple(range(self.size))
        self._index = {key: {w: tuple(p) for w, p in words.items()} for key, words in index.items()}

    @property
    def gated(self) -> int:
        return self.size - len(self._always)

    def candidates(self, facts: Facts) -> Sequence[int]:
        if not self._index:
            return self._all
        found = set(self._always)
        for (field, case), by_word in self._index.items():
            tokens, _ = facts.view(field).words(case)
            # Walk the smaller side: a long message against few words, or
            # a short message against many.
            if len(tokens) <= len(by_word):
                for token in tokens:
                    positions = by_word.get(token)
                    if positions:
                        found.update(positions)
            else:
                for word, positions in by_word.items():
                    if word in tokens:
                        found.update(positions)
        return sorted(found)
